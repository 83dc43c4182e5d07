/**
 * OFREP providers send their key as `Authorization: Bearer <key>` or as
 * `X-API-Key: <key>` (the protocol's two security schemes). An SDK or admin
 * key may evaluate; a read key may not (403). Failed keys count against the
 * same per-address limit as the rest of the API (429 with Retry-After).
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.ts';
import type { AppEnv } from '../http/auth.ts';
import { clientAddress, type FailureLimiter } from '../http/failure-limit.ts';
import type { KeyService } from '../keys/service.ts';

function presentedKey(authorization: string | undefined, apiKey: string | undefined): string | null {
  if (authorization !== undefined) return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)?.[1] ?? null;
  const key = apiKey?.trim();
  return key === undefined || key === '' ? null : key;
}

export function requireOfrepKey(keys: KeyService, limiter: FailureLimiter): MiddlewareHandler<AppEnv> {
  return async function authenticateOfrep(c, next) {
    const address = clientAddress(c);
    limiter.assertAllowed(c, address);
    const presented = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (presented === null) throw new AppError(401, 'unauthorized', 'send an SDK key as Authorization: Bearer <key> or X-API-Key: <key>');
    const principal = await keys.authenticate(presented);
    if (principal === null) {
      limiter.fail(address);
      throw new AppError(401, 'unauthorized', 'the key is unknown or revoked');
    }
    if (principal.kind === 'read') throw new AppError(403, 'forbidden', 'a read key may not evaluate flags: use an SDK key');
    c.set('principal', principal);
    await next();
  };
}
