/**
 * One HTTP attempt at a callback URL, made safe: the host is resolved here,
 * every candidate address goes through the address policy, and the request
 * connects to the address that passed (so a second DNS answer cannot steer it
 * elsewhere). Redirects are not followed; the whole attempt, from the lookup
 * to the last byte read, has one deadline (15 s).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { hostOf, type AddressPolicy } from './address-policy.ts';
import { parseRetryAfter } from './schedule.ts';

export const ATTEMPT_TIMEOUT_MS = 15_000;
const EXCERPT_BYTES = 1024;

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface AttemptResult {
  /** The HTTP status, or null when there was no response. */
  status: number | null;
  latencyMs: number;
  error: string | null;
  excerpt: string | null;
  /** The address connected to, or null when none was allowed. */
  address: string | null;
  retryAfterMs: number | null;
}

export interface SenderDeps {
  policy: AddressPolicy;
  resolve?: Resolver;
  timeoutMs?: number;
  now?: () => number;
}

/** `timeoutMs`: a shorter deadline for this attempt (so that it ends inside its lease). */
export type Sender = (url: string, body: string, headers: Record<string, string>, timeoutMs?: number) => Promise<AttemptResult>;

class Refused extends Error {}

/** The first address of the host that the policy allows; throws Refused when none is. */
async function pickAddress(hostname: string, policy: AddressPolicy, resolve: Resolver): Promise<ResolvedAddress> {
  const literal = isIP(hostname);
  const candidates = literal !== 0 ? [{ address: hostname, family: literal }] : await resolve(hostname);
  if (candidates.length === 0) throw new Refused(`${hostname} resolved to no address`);
  let firstReason = '';
  for (const candidate of candidates) {
    const verdict = policy.check(candidate.address);
    if (verdict.allowed) return candidate;
    firstReason ||= verdict.reason;
  }
  throw new Refused(`refused: ${hostname} resolved only to addresses callbacks may not reach (${firstReason})`);
}

function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as LookupFunction;
}

export function createSender(deps: SenderDeps): Sender {
  const resolve = deps.resolve ?? systemResolver;
  const defaultTimeoutMs = deps.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const now = deps.now ?? Date.now;

  return async function sendCallback(url, body, headers, shorterMs) {
    const timeoutMs = Math.min(defaultTimeoutMs, shorterMs ?? defaultTimeoutMs);
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = new URL(url);
    const hostname = hostOf(target);
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), timeoutMs);
    let address: string | null = null;
    try {
      const picked = await Promise.race([
        pickAddress(hostname, deps.policy, resolve),
        new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)))),
      ]);
      address = picked.address;
      const transport = target.protocol === 'https:' ? https : http;
      const response = await new Promise<{ status: number; excerpt: string; retryAfter: string | undefined }>((resolveResponse, reject) => {
        const request = transport.request(
          target,
          {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'Rollcall-Callbacks/1' },
            lookup: pinnedLookup(picked),
            signal: controller.signal,
            agent: false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            const finish = () => {
              res.destroy();
              resolveResponse({ status: res.statusCode ?? 0, excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'), retryAfter: res.headers['retry-after'] });
            };
            res.on('data', (chunk: Buffer) => {
              chunks.push(chunk);
              size += chunk.length;
              if (size >= EXCERPT_BYTES) finish();
            });
            res.on('end', finish);
            res.on('error', reject);
          },
        );
        request.on('error', (error) => reject(controller.signal.aborted ? new Error(`no answer within ${timeoutMs} ms`) : error));
        request.end(body);
      });
      const redirect = response.status >= 300 && response.status < 400 ? `answered ${response.status}; redirects are not followed` : null;
      return {
        status: response.status,
        latencyMs: elapsed(),
        error: redirect,
        excerpt: response.excerpt === '' ? null : response.excerpt,
        address,
        retryAfterMs: parseRetryAfter(response.retryAfter, now()),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { status: null, latencyMs: elapsed(), error: message, excerpt: null, address, retryAfterMs: null };
    } finally {
      clearTimeout(deadline);
    }
  };
}
