/**
 * The OpenFeature Remote Evaluation Protocol (v0.3), so that OpenFeature's
 * OFREP providers (Go, Java, .NET, Python, JavaScript, …) route partners
 * without a Rollcall SDK. Answers come from the snapshot in memory — the one
 * the SDK stream sends — so an evaluation costs no database read.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { AppEnv } from '../http/auth.ts';
import type { FailureLimiter } from '../http/failure-limit.ts';
import { describe } from '../http/openapi.ts';
import type { KeyService } from '../keys/service.ts';
import { etagMatches } from '../sdk-config/routes.ts';
import type { StreamHub } from '../sdk-config/stream-hub.ts';
import { requireOfrepKey } from './auth.ts';
import { evaluateAll, evaluateFlag } from './evaluate.ts';
import { evaluationRequestSchema, parseEvaluationRequest } from './request.ts';
import { bulkResponses, singleResponses } from './schemas.ts';

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
    async (c) => {
      const request = parseEvaluationRequest(await c.req.text());
      if (!request.ok) return c.json({ errorCode: request.errorCode, errorDetails: request.errorDetails }, 400);
      const { snapshot } = await deps.hub.inMemory();
      const body = JSON.stringify({ flags: evaluateAll(snapshot, request.partnerId), metadata: { version: snapshot.version } });
      // Over the answer itself: a change to rollouts this partner's paths do not depend on still gives 304.
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      c.header('ETag', etag);
      c.header('Cache-Control', 'no-cache');
      if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
      c.header('Content-Type', 'application/json');
      return c.body(body);
    },
  );

  return app;
}
