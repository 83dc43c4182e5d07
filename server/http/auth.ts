/**
 * Bearer-key authentication and the kinds' rights:
 *   admin — anything;  read — GET (and HEAD) only, not the key inventory;
 *   sdk — only /v1/sdk/*.
 * 401 for a missing, unknown or revoked key; 403 for the wrong kind of key.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.ts';
import type { KeyKind, Principal } from '../principal.ts';
import { clientAddress, type FailureLimiter } from './failure-limit.ts';

const KEY_NAMES = { admin: 'an admin key', sdk: 'an SDK key', read: 'a read key' } as const;

export type AppEnv = { Variables: { principal: Principal } };

/** What authentication asks of the keys domain: the principal a presented key stands for, or null. */
export interface KeyAuthenticator {
  authenticate(presented: string): Promise<Principal | null>;
}

export function allows(kind: KeyKind, method: string, path: string): boolean {
  if (kind === 'admin') return true;
  if (kind === 'sdk') return path.startsWith('/v1/sdk/');
  return (method === 'GET' || method === 'HEAD') && !path.startsWith('/v1/keys');
}

export function requireKey(keys: KeyAuthenticator, limiter: FailureLimiter): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    const address = clientAddress(c);
    limiter.assertAllowed(c, address);
    const header = c.req.header('authorization');
    const presented = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
    if (presented == null) {
      throw new AppError(401, 'unauthorized', 'send a Rollcall key as Authorization: Bearer <key>');
    }
    const principal = await keys.authenticate(presented);
    if (principal === null) {
      limiter.fail(address);
      throw new AppError(401, 'unauthorized', 'the key is unknown or revoked');
    }
    if (!allows(principal.kind, c.req.method, c.req.path)) {
      throw new AppError(403, 'forbidden', `${KEY_NAMES[principal.kind]} may not ${c.req.method} ${c.req.path}`);
    }
    c.set('principal', principal);
    await next();
  };
}
