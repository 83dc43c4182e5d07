/** What the rollouts API answers, as zod schemas tied to the views at compile time (also the source of /openapi.json). */
import { z } from 'zod';
import { ROLLOUT_STATES } from '@rollcall/protocol';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import { compareRulesSchema } from './compare-rules.ts';
import { onBreachSchema, pathSchema, stepSchema } from './schemas.ts';
import type { cohortView, pinView, rolloutSummary, RolloutView } from './view.ts';

const basisPoints = z.number().int().min(0).max(10_000);
const percent = z.number().min(0).max(100);

export const cohortViewSchema = named(
  'Cohort',
  z.strictObject({
    name: z.string().describe('c1, c2, … in the order the plan created them'),
    step: z.number().int().min(0),
    from: basisPoints.describe('first position inside the band, in basis points'),
    to: basisPoints.describe('first position past the band'),
    status: z.enum(['active', 'reverted']),
    createdAt: isoTime,
    revertedAt: isoTime.nullable(),
    revertKind: z.enum(['manual', 'breach']).nullable(),
    revertedBy: z.string().nullable(),
    revertReason: z.string().nullable(),
  }),
);

export const pinViewSchema = named('Pin', z.strictObject({ partnerId: z.string(), path: pathSchema, createdAt: isoTime, createdBy: z.string() }));

/** The guards in force: every one set (the defaults fill what a rollout leaves out). */
export const guardsViewSchema = named(
  'Guards',
  z.strictObject({
    graceSeconds: z.number(),
    windowSeconds: z.number(),
    minSample: z.number(),
    maxLossRate: z.number(),
    maxFailureRateDelta: z.number(),
    maxMismatchRate: z.number(),
    reporterTimeoutSeconds: z.number(),
    watchSeconds: z.number(),
    alpha: z.number(),
    maxLatencyRatio: z.number(),
  }),
);

const summaryShape = {
  key: z.string(),
  description: z.string(),
  salt: z.string(),
  state: z.enum(ROLLOUT_STATES),
  stateReason: z.string().nullable().describe('the reason given with the latest lifecycle action'),
  step: z.number().int().min(0).nullable().describe('the current plan step; null for a draft'),
  live: percent.describe('percent of partners on new at this step (100 once completed)'),
  shadow: percent.nullable(),
  effectiveLive: percent.describe('live less the bands of reverted cohorts'),
  effectiveShadow: percent,
  verify: z.number().min(0).max(1).nullable(),
  plan: z.array(stepSchema),
  guards: guardsViewSchema,
  onBreach: onBreachSchema,
  autoAdvance: z.boolean(),
  compare: compareRulesSchema,
  version: z.number().int().min(1),
  stepEnteredAt: isoTime.nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
  cohorts: z.array(cohortViewSchema),
  pinCount: z.number().int().min(0),
};

/** A rollout as every change answers it (with an ETag of its version). */
export const rolloutViewSchema = named('Rollout', z.strictObject({ ...summaryShape, pins: z.array(pinViewSchema) }));

/**
 * The list's items and GET /v1/rollouts/:key carry health from the health
 * domain: `health` is its schema, handed in by whoever mounts both.
 */
export function rolloutResponses<L extends z.ZodType, H extends z.ZodType>(listHealth: L, itemHealth: H) {
  return {
    list: named('RolloutList', pageOf(z.strictObject({ ...summaryShape, health: listHealth, healthAt: isoTime.describe('when the status was measured') }))),
    item: named('RolloutWithHealth', z.strictObject({ ...summaryShape, pins: z.array(pinViewSchema), health: itemHealth })),
  };
}

const tied: [
  Same<z.output<typeof cohortViewSchema>, ReturnType<typeof cohortView>>,
  Same<z.output<typeof pinViewSchema>, ReturnType<typeof pinView>>,
  Same<z.output<z.ZodObject<typeof summaryShape>>, ReturnType<typeof rolloutSummary>>,
  Same<z.output<typeof rolloutViewSchema>, RolloutView>,
] = [true, true, true, true];
void tied;
