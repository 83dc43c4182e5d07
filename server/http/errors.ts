/** Every error leaves the server in one shape: `{ error: { code, message, details? } }`. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { StorageMonitor } from '../storage/monitor.ts';
import { RETRY_AFTER_SECONDS, unavailableBody } from '../storage/unavailable.ts';

function body(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function renderError(error: unknown, c: Context, logger: Logger, storage: StorageMonitor): Response {
  if (error instanceof AppError) {
    return c.json(body(error.code, error.message, error.details), error.status as ContentfulStatusCode);
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = error.status === 413 ? 'payload_too_large' : error.status === 401 ? 'unauthorized' : 'bad_request';
    return c.json(body(code, error.message || code.replace('_', ' ')), error.status as ContentfulStatusCode);
  }
  // A full disk, a lock held too long, an unreachable libsql server: the request may be retried as it is.
  if (storage.failed(`${c.req.method} ${c.req.routePath}`, error) !== null) {
    c.header('retry-after', String(RETRY_AFTER_SECONDS));
    return c.json(unavailableBody(storage.outage, error), 503);
  }
  // Only the route and the error itself are logged: never headers or payloads.
  logger.error('unhandled error', { method: c.req.method, path: c.req.path, error: error instanceof Error ? error.stack : String(error) });
  return c.json(body('internal', 'internal error'), 500);
}

export function routeNotFound(c: Context): Response {
  return c.json(body('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
