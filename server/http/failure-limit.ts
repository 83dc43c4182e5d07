/**
 * Rate limits on failed authentication, per client address: after `max`
 * failures within `windowMs` (30 a minute), that address gets 429 with
 * `Retry-After` until the window ends, whatever it sends. Successes never
 * count. Keys carry about 190 random bits, so this is not what keeps them secret: it
 * keeps scanners and misconfigured clients from flooding the server and the
 * key table. Memory is bounded (10,000 addresses; the oldest are dropped).
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';

const MAX_ADDRESSES = 10_000;

export interface FailureLimitOptions {
  max?: number;
  windowMs?: number;
}

/** The peer's address as the socket saw it (a proxy's forwarding headers are not trusted). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // app.request() in tests: no socket
  }
}

export function createFailureLimiter(clock: Clock, options: FailureLimitOptions = {}) {
  const max = options.max ?? 30;
  const windowMs = options.windowMs ?? 60_000;
  const failures = new Map<string, { count: number; resetAt: number }>();

  return {
    /** Throws 429 when `address` has failed too often in the current window. */
    assertAllowed(c: Context, address: string): void {
      const entry = failures.get(address);
      if (entry === undefined) return;
      const now = clock.now();
      if (entry.resetAt <= now) {
        failures.delete(address);
        return;
      }
      if (entry.count < max) return;
      const seconds = Math.ceil((entry.resetAt - now) / 1000);
      c.header('Retry-After', String(seconds));
      throw new AppError(429, 'too_many_failed_attempts', `too many failed sign-ins from this address; try again in ${seconds} s`, { retryAfterSeconds: seconds });
    },

    /** Counts one failed authentication from `address`. */
    fail(address: string): void {
      const now = clock.now();
      const entry = failures.get(address);
      if (entry !== undefined && entry.resetAt > now) {
        entry.count++;
        return;
      }
      failures.delete(address);
      if (failures.size >= MAX_ADDRESSES) failures.delete(failures.keys().next().value!);
      failures.set(address, { count: 1, resetAt: now + windowMs });
    },
  };
}

export type FailureLimiter = ReturnType<typeof createFailureLimiter>;
