/**
 * The OpenFeature Remote Evaluation Protocol (v0.3), so that OpenFeature's
 * OFREP providers (Go, Java, .NET, Python, JavaScript, …) route partners
 * without a Rollcall SDK. Answers come from the snapshot in memory — the one
 * the SDK stream sends — so an evaluation costs no database read. The event
 * stream (ADR-0008, events.ts) is fed by the same stream hub as the SDK
 * stream, so it hears of changes made by other servers as SDKs do.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { z } from 'zod';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../http/auth.ts';
import type { FailureLimiter } from '../http/failure-limit.ts';
import { describe } from '../http/openapi.ts';
import { queryOf } from '../http/validate.ts';
import type { KeyService } from '../keys/service.ts';
import { etagMatches } from '../http/if-match.ts';
import type { StreamHub } from '../sdk-config/stream-hub.ts';
import { createStreamSession } from '../sdk-config/stream-session.ts';
import { requireOfrepKey } from './auth.ts';
import { evaluateAll, evaluateFlag } from './evaluate.ts';
import { EVENT_STREAM_PATH, eventStreamsFor, refetchFrame } from './events.ts';
import { bulkQuerySchema, evaluationRequestSchema, parseEvaluationRequest } from './request.ts';
import { bulkResponses, bulkSuccessSchema, eventStreamResponses, singleResponses } from './schemas.ts';

const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

export function ofrepRoutes(deps: { hub: StreamHub; keys: KeyService; failures: FailureLimiter }) {
  const app = new Hono<AppEnv>();
  app.use('*', requireOfrepKey(deps.keys, deps.failures));

  app.post(
    '/evaluate/flags/:key',
    describe({ summary: 'OFREP: evaluate one rollout for a partner (context.targetingKey)', tag: 'ofrep', body: evaluationRequestSchema, security, responses: singleResponses }),
    async (c) => {
      const key = c.req.param('key');
      const request = parseEvaluationRequest(await c.req.text());
      if (!request.ok) return c.json({ key, errorCode: request.errorCode, errorDetails: request.errorDetails }, 400);
      const { snapshot } = await deps.hub.inMemory();
      const evaluation = evaluateFlag(snapshot, key, request.partnerId);
      if (evaluation === undefined) return c.json({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `no rollout ${JSON.stringify(key)}` }, 404);
      return c.json(evaluation);
    },
  );

  app.post(
    '/evaluate/flags',
    describe({ summary: 'OFREP: evaluate every rollout for a partner (ETag, 304 on If-None-Match)', tag: 'ofrep', body: evaluationRequestSchema, security, responses: bulkResponses }),
    queryOf(bulkQuerySchema),
    async (c) => {
      const request = parseEvaluationRequest(await c.req.text());
      if (!request.ok) return c.json({ errorCode: request.errorCode, errorDetails: request.errorDetails }, 400);
      const { flagConfigEtag } = c.req.valid('query');
      let published = await deps.hub.inMemory();
      // Prompted by an event for a configuration this server has not seen (made on another server, within
      // the hub's watch): read it now rather than answer with the one before.
      if (flagConfigEtag !== undefined && flagConfigEtag !== published.etag) published = await deps.hub.current();
      const answer: z.output<typeof bulkSuccessSchema> = {
        flags: evaluateAll(published.snapshot, request.partnerId),
        eventStreams: eventStreamsFor(c.req.path),
        metadata: { version: published.snapshot.version, flagConfigEtag: published.etag },
      };
      const body = JSON.stringify(answer);
      // Over the answer itself, which names the configuration it was evaluated from: any change gives a new one.
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      c.header('ETag', etag);
      c.header('Cache-Control', 'no-cache');
      if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
      c.header('Content-Type', 'application/json');
      return c.body(body);
    },
  );

  app.get(
    EVENT_STREAM_PATH,
    describe({ summary: "OFREP: Server-Sent Events, refetchEvaluation with the configuration's ETag on every change (ADR-0008)", tag: 'ofrep', security, responses: eventStreamResponses }),
    (c) => {
      const lastEventId = c.req.header('last-event-id');
      c.header('X-Accel-Buffering', 'no');
      return streamSSE(c, async (stream) => {
        let end!: () => void;
        const ended = new Promise<void>((resolve) => (end = resolve));
        stream.onAbort(end);
        const session = createStreamSession({ patches: false, whole: refetchFrame, write: (bytes) => stream.write(bytes), end, stallMs: deps.hub.stallMs });
        const unsubscribe = deps.hub.subscribe({ change: session.change, heartbeat: session.heartbeat, close: end });
        try {
          // On connect, the configuration now: a change between the provider's bulk answer and this
          // connection is not lost. A reconnecting client whose Last-Event-ID names it is told nothing.
          const current = await deps.hub.current();
          if (current.etag !== lastEventId) session.change(current, null, () => null);
          await ended;
        } finally {
          unsubscribe();
        }
      });
    },
  );

  return app;
}
