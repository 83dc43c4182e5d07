/** Every error leaves the server in one shape: `{ error: { code, message, details? } }`. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';

function body(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * The answer to an error storage caused, or null for any other: the storage domain tells (and counts it
 * under `operation`, the route); this file only renders it.
 */
export type StorageFailure = (operation: string, error: unknown) => { body: unknown; retryAfterSeconds: number } | null;

export function renderError(error: unknown, c: Context, logger: Logger, storageFailure: StorageFailure): Response {
  if (error instanceof AppError) {
    return c.json(body(error.code, error.message, error.details), error.status as ContentfulStatusCode);
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = error.status === 413 ? 'payload_too_large' : error.status === 401 ? 'unauthorized' : 'bad_request';
    return c.json(body(code, error.message || code.replace('_', ' ')), error.status as ContentfulStatusCode);
  }
  // A full disk, a lock held too long, an unreachable libsql server: the request may be retried as it is.
  const unavailable = storageFailure(`${c.req.method} ${c.req.routePath}`, error);
  if (unavailable !== null) {
    c.header('retry-after', String(unavailable.retryAfterSeconds));
    return c.json(unavailable.body, 503);
  }
  // Only the route and the error itself are logged: never headers or payloads.
  logger.error('unhandled error', { method: c.req.method, path: c.req.path, error: error instanceof Error ? error.stack : String(error) });
  return c.json(body('internal', 'internal error'), 500);
}

export function routeNotFound(c: Context): Response {
  return c.json(body('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
