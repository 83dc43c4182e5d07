/** GET /v1/rollouts/:key/health and GET /v1/rollouts/:key/mismatches. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { intQuery, limitQuery, queryOf } from '../http/validate.ts';
import { cohortSchema } from '../reports/schemas.ts';
import type { DiffEntry } from '@rollcall/protocol';
import { noiseView, rankedFields, splitSample } from './mismatch-view.ts';
import { mismatchesSchema, rolloutHealthSchema } from './responses.ts';
import type { HealthService } from './service.ts';

const healthQuerySchema = z.strictObject({ window: intQuery(10, 7 * 86_400).optional() });

const mismatchQuerySchema = z.strictObject({
  cohort: cohortSchema.optional(),
  before: intQuery(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: limitQuery,
});

export function healthRoutes(health: HealthService) {
  const app = new Hono<AppEnv>();
  app.get('/:key/health', describe({ summary: 'Health per cohort over a window: counts, rates, breaches, replay progress', response: rolloutHealthSchema }), queryOf(healthQuerySchema), async (c) =>
    c.json(await health.health(c.req.param('key'), c.req.valid('query').window)),
  );
  return app;
}

export function mismatchRoutes(health: HealthService) {
  const app = new Hono<AppEnv>();
  app.get('/:key/mismatches', describe({ summary: 'Mismatch samples (real differences apart from noise), fields ranked by how often they differ, and learned noise', response: mismatchesSchema }), queryOf(mismatchQuerySchema), async (c) => {
    const query = c.req.valid('query');
    const { samples, evidence, judged, quiet, counts, compared, learning } = await health.mismatches(c.req.param('key'), query);
    return c.json({
      items: samples.map((r) => ({
        id: r.id,
        cohort: r.cohort,
        at: new Date(r.at).toISOString(),
        messageId: r.messageId,
        partnerId: r.partnerId,
        authoritative: r.authoritative,
        kind: r.kind,
        ...splitSample(r.kind, r.diffs as DiffEntry[], quiet),
      })),
      nextCursor: samples.length === query.limit ? String(samples[samples.length - 1]!.id) : null,
      fields: rankedFields(judged, counts, compared),
      noise: noiseView(evidence, judged, learning),
      learnedNoise: [...judged.values()].filter((j) => j.noise).map((j) => j.path).sort(),
    });
  });
  return app;
}
