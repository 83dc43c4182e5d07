/** What the health API answers (and the health a rollout carries), as zod schemas tied to the views at compile time. */
import { z } from 'zod';
import { COUNTERS, DROP_REASONS, type Counter } from '@rollcall/protocol';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import { guardsViewSchema } from '../rollouts/responses.ts';
import { pathSchema } from '../rollouts/schemas.ts';
import type { HealthService } from './service.ts';
import { HEALTH_STATUSES } from './status.ts';
import { JUDGED_GUARDS } from './guards.ts';
import type { cohortFigures, cohortHealthView, healthSummary } from './view.ts';
import type { noiseView, rankedFields, splitSample } from './mismatch-view.ts';

const count = z.number().int().min(0);
const rate = z.number().nullable();
const counters = Object.fromEntries(COUNTERS.map((c) => [c, count])) as Record<Counter, typeof count>;
const cohortName = z.string().describe('c1…, baseline, shadow, pinned or completed');

export const healthStatusSchema = named('HealthStatus', z.strictObject({ status: z.enum(HEALTH_STATUSES), reason: z.string() }));

const ratesSchema = z.strictObject({ loss: rate, failure: rate, failureDelta: rate, mismatch: rate, latencyRatio: rate });
const latencySchema = z.strictObject({ p50: z.number().nullable(), p99: z.number().nullable() });
const replaySchema = z.strictObject({ lost: count, leased: count, replayed: count, late: count });

export const breachSchema = named(
  'Breach',
  z.strictObject({
    cohort: z.string(),
    guard: z.enum([...JUDGED_GUARDS, 'dropped']),
    value: z.number(),
    threshold: z.number(),
    sample: count,
    reason: z.string(),
    evidence: z.strictObject({ value: z.number(), needed: z.number() }).optional(),
  }),
);

const verdictSchema = z.strictObject({
  guard: z.enum(JUDGED_GUARDS),
  estimate: z.number().nullable(),
  tolerated: z.number(),
  tolerance: z.number(),
  sample: count,
  evidence: z.number(),
  needed: z.number(),
  more: z.number().nullable(),
  breached: z.boolean(),
  detail: z.string(),
});

const figuresShape = {
  name: cohortName,
  status: z.enum(['active', 'reverted']).nullable(),
  health: healthStatusSchema.nullable().optional().describe('the cohort\'s own status'),
  since: isoTime,
  ...counters,
  droppedBy: z.partialRecord(z.enum(DROP_REASONS), count).optional().describe('present when something was dropped'),
  due: count,
  lost: count,
  rates: ratesSchema,
  breached: z.boolean(),
};

export const cohortFiguresSchema = named('CohortFigures', z.strictObject(figuresShape));

export const cohortHealthSchema = named(
  'CohortHealth',
  z.strictObject({
    ...figuresShape,
    kind: z.enum(['band', 'shadow', 'baseline', 'pinned', 'completed']),
    path: pathSchema,
    band: z.strictObject({ from: count, to: count }).nullable(),
    late: count,
    withdrawn: count,
    open: count,
    latencyMs: latencySchema,
    breaches: z.array(breachSchema),
    verdicts: z.array(verdictSchema),
  }),
);

/** The per-cohort summary GET /v1/rollouts/:key carries. */
export const healthSummarySchema = named(
  'HealthSummary',
  z.strictObject({
    ...healthStatusSchema.shape,
    at: isoTime,
    windowSeconds: count,
    breached: z.boolean(),
    cohorts: z.array(cohortFiguresSchema),
    replay: replaySchema,
  }),
);

export const rolloutHealthSchema = named(
  'RolloutHealth',
  z.strictObject({
    rollout: z.string(),
    version: z.number().int(),
    health: healthStatusSchema,
    at: isoTime,
    window: z.strictObject({ seconds: count, from: isoTime, to: isoTime, epoch: count }),
    dueSeconds: z.number().min(0),
    thresholds: guardsViewSchema,
    breached: z.boolean(),
    breach: breachSchema.nullable(),
    learningNoise: z.strictObject({ runs: count, needed: count }).nullable(),
    cohorts: z.array(cohortHealthSchema),
    latencyMs: z.strictObject({ old: latencySchema, new: latencySchema }),
    replay: replaySchema,
    reporters: z.strictObject({
      live: count,
      lagging: z.array(z.strictObject({ instanceId: z.string(), lagSeconds: z.number() })),
      gone: z.array(z.strictObject({ instanceId: z.string(), since: isoTime })),
    }),
    degraded: z.boolean(),
    degradedReason: z.string().nullable(),
  }),
);

const diffEntrySchema = z.strictObject({ path: z.string(), old: z.unknown().optional(), new: z.unknown().optional() });

const rankedFieldSchema = z.strictObject({
  path: z.string(),
  count,
  compared: count,
  noise: z.boolean(),
  ignored: z.boolean(),
  oldRate: rate,
  newRate: rate,
  learnedAt: isoTime.nullable(),
  learnedFrom: z.number().nullable(),
});

const noiseSchema = z.strictObject({
  runs: count.nullable(),
  learning: z.strictObject({ runs: count, needed: count }).nullable(),
  fields: z.array(
    z.strictObject({ path: z.string(), differing: count, firstSeenAt: isoTime, learnedAt: isoTime.nullable(), learnedFrom: z.number().nullable(), noise: z.boolean() }),
  ),
});

const splitShape = { diffs: z.array(diffEntrySchema), noise: z.array(diffEntrySchema), withdrawn: z.boolean() };

export const mismatchesSchema = named(
  'Mismatches',
  z.strictObject({
    ...pageOf(
      z.strictObject({
        id: z.number().int(),
        cohort: z.string(),
        at: isoTime,
        messageId: z.string(),
        partnerId: z.string(),
        authoritative: z.enum(['old', 'new']),
        kind: z.enum(['diff', 'error', 'timeout']),
        ...splitShape,
      }),
    ).shape,
    fields: z.array(rankedFieldSchema),
    noise: noiseSchema,
    learnedNoise: z.array(z.string()),
  }),
);

const tied: [
  Same<z.output<typeof cohortFiguresSchema>, ReturnType<typeof cohortFigures>>,
  Same<z.output<typeof cohortHealthSchema>, ReturnType<typeof cohortHealthView>>,
  Same<z.output<typeof healthSummarySchema>, ReturnType<typeof healthSummary>>,
  Same<z.output<typeof rolloutHealthSchema>, Awaited<ReturnType<HealthService['health']>>>,
  Same<z.output<typeof rankedFieldSchema>, ReturnType<typeof rankedFields>[number]>,
  Same<z.output<typeof noiseSchema>, ReturnType<typeof noiseView>>,
  Same<z.output<z.ZodObject<typeof splitShape>>, ReturnType<typeof splitSample>>,
] = [true, true, true, true, true, true, true];
void tied;
