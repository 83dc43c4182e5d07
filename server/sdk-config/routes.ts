/** /v1/sdk/config: the snapshot, with a strong ETag and 304 on `If-None-Match`. */
import { Hono } from 'hono';
import type { AppEnv } from '../http/auth.ts';
import type { SnapshotSource } from './snapshot.ts';

/** True when an `If-None-Match` list names `etag` (or is `*`). Weak comparison, as RFC 9110 asks for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

export function sdkConfigRoutes(snapshots: SnapshotSource) {
  const app = new Hono<AppEnv>();
  app.get('/config', async (c) => {
    const published = await snapshots.current();
    c.header('ETag', published.etag);
    c.header('Cache-Control', 'no-cache');
    if (etagMatches(c.req.header('if-none-match'), published.etag)) return c.body(null, 304);
    c.header('Content-Type', 'application/json');
    return c.body(published.body);
  });
  return app;
}
