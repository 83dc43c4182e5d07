/**
 * /v1/sdk/config: the snapshot, with a strong ETag and 304 on `If-None-Match`.
 * /v1/sdk/stream: Server-Sent Events: `snapshot` on connect and on every
 * change, a comment every 15 s as a heartbeat.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import type { PublishedSnapshot, SnapshotSource } from './snapshot.ts';
import type { StreamHub } from './stream-hub.ts';

/** True when an `If-None-Match` list names `etag` (or is `*`). Weak comparison, as RFC 9110 asks for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

export function sdkConfigRoutes(snapshots: SnapshotSource, hub: StreamHub) {
  const app = new Hono<AppEnv>();

  app.get('/config', describe('The snapshot SDKs evaluate (ETag, 304)'), async (c) => {
    const published = await snapshots.current();
    c.header('ETag', published.etag);
    c.header('Cache-Control', 'no-cache');
    if (etagMatches(c.req.header('if-none-match'), published.etag)) return c.body(null, 304);
    c.header('Content-Type', 'application/json');
    return c.body(published.body);
  });

  app.get('/stream', describe({ summary: 'Server-Sent Events: the snapshot on connect and on every change', success: { status: 200, description: 'an event stream', contentType: 'text/event-stream' } }), (c) => {
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (stream) => {
      let end!: () => void;
      const ended = new Promise<void>((resolve) => (end = resolve));
      stream.onAbort(end);
      let sentVersion = -1;
      let pending: PublishedSnapshot | null = null;
      let chain = Promise.resolve();
      const enqueue = (write: () => Promise<unknown>) => {
        chain = chain.then(write).then(
          () => undefined,
          () => end(),
        );
      };
      const send = (published: PublishedSnapshot) => {
        if (published.snapshot.version <= sentVersion) return;
        sentVersion = published.snapshot.version;
        const queued = pending !== null;
        pending = published;
        if (queued) return; // the write already queued will send this newer one
        enqueue(async () => {
          const next = pending!;
          pending = null;
          await stream.writeSSE({ event: 'snapshot', id: String(next.snapshot.version), data: next.body });
        });
      };
      const unsubscribe = hub.subscribe({
        snapshot: send,
        heartbeat: () => enqueue(() => stream.write(': heartbeat\n\n')),
        close: end,
      });
      try {
        send(await hub.current());
        await ended;
      } finally {
        unsubscribe();
      }
    });
  });

  return app;
}
