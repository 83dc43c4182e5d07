/**
 * /v1/sdk/config: the snapshot, with a strong ETag and 304 on `If-None-Match`.
 * /v1/sdk/stream: Server-Sent Events, a comment every 15 s as a heartbeat;
 * the events are described in frames.ts.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { queryOf } from '../http/validate.ts';
import { configSnapshotSchema } from './responses.ts';
import type { SnapshotSource } from './snapshot.ts';
import type { StreamHub } from './stream-hub.ts';
import { createStreamSession } from './stream-session.ts';
import { etagMatches } from '../http/if-match.ts';

/** `?patches=1`: the client applies `patch` events (SDKs after 0.2); without it every change is a whole snapshot, as older SDKs expect. */
const streamQuerySchema = z.strictObject({ patches: z.enum(['0', '1']).optional() });

export function sdkConfigRoutes(snapshots: SnapshotSource, hub: StreamHub) {
  const app = new Hono<AppEnv>();

  app.get('/config', describe({ summary: 'The snapshot SDKs evaluate (ETag, 304)', response: configSnapshotSchema, notModified: true }), async (c) => {
    const published = await snapshots.current();
    c.header('ETag', published.etag);
    c.header('Cache-Control', 'no-cache');
    if (etagMatches(c.req.header('if-none-match'), published.etag)) return c.body(null, 304);
    c.header('Content-Type', 'application/json');
    return c.body(published.body);
  });

  app.get(
    '/stream',
    describe({ summary: 'Server-Sent Events: the snapshot on connect, then every change (whole, or as patches with ?patches=1)', success: { status: 200, description: 'an event stream', contentType: 'text/event-stream' } }),
    queryOf(streamQuerySchema),
    (c) => {
      const { patches } = c.req.valid('query');
      c.header('X-Accel-Buffering', 'no');
      return streamSSE(c, async (stream) => {
        let end!: () => void;
        const ended = new Promise<void>((resolve) => (end = resolve));
        stream.onAbort(end);
        const session = createStreamSession({ patches: patches === '1', write: (bytes) => stream.write(bytes), end, stallMs: hub.stallMs });
        const unsubscribe = hub.subscribe({ change: session.change, heartbeat: session.heartbeat, close: end });
        try {
          session.change(await hub.current(), null, () => null);
          await ended;
        } finally {
          unsubscribe();
        }
      });
    },
  );

  return app;
}
