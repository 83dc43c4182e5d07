/** Every input the rollouts API accepts, as zod schemas (also the source of /openapi.json). */
import { z } from 'zod';
import { compareRulesSchema } from './compare-rules.ts';

export const ROLLOUT_KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const rolloutKeySchema = z.string().regex(ROLLOUT_KEY, 'a rollout key is 1-64 of a-z 0-9 . _ - and starts with a letter or digit');

/** A percentage with at most two decimals: one basis point is the finest band. */
const percent = z
  .number()
  .min(0)
  .max(100)
  .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6, 'at most two decimal places (one basis point)');

export const stepSchema = z
  .strictObject({
    live: percent,
    shadow: percent.optional(),
    verify: z.number().min(0).max(1).optional(),
    bakeSeconds: z.number().int().min(0).max(30 * 86_400).optional(),
    minMessages: z.number().int().min(0).max(1_000_000_000).optional(),
  })
  .refine((step) => step.shadow === undefined || step.shadow >= step.live, {
    message: 'shadow is the outer edge of the shadow band and must be at least live',
    path: ['shadow'],
  });

export const planSchema = z
  .array(stepSchema)
  .min(1, 'a plan has at least one step')
  .max(100)
  .superRefine((steps, ctx) => {
    for (let i = 1; i < steps.length; i++) {
      if (steps[i]!.live < steps[i - 1]!.live) {
        ctx.addIssue({ code: 'custom', path: [i, 'live'], message: `live never decreases along a plan (step ${i} has ${steps[i - 1]!.live})` });
      }
    }
  });

export const guardsSchema = z
  .strictObject({
    graceSeconds: z.number().int().min(1).max(86_400),
    windowSeconds: z.number().int().min(10).max(7 * 86_400),
    minSample: z.number().int().min(1).max(1_000_000_000),
    maxLossRate: z.number().min(0).max(1),
    maxFailureRateDelta: z.number().min(0).max(1),
    maxMismatchRate: z.number().min(0).max(1),
    reporterTimeoutSeconds: z.number().int().min(1).max(7 * 86_400),
    watchSeconds: z.number().int().min(0).max(90 * 86_400),
    alpha: z.number().min(1e-9).max(0.2),
    maxLatencyRatio: z.union([z.literal(0), z.number().min(1).max(1000)]),
  })
  .partial();

export const onBreachSchema = z.enum(['revert-cohort', 'revert-all', 'pause']);

const description = z.string().max(2000);
const salt = z.string().min(1).max(128);
export const reasonSchema = z.string().trim().min(1, 'a reason is required').max(1000);
export const cohortNameSchema = z.string().regex(/^c[1-9][0-9]{0,3}$/, 'a cohort is named c1, c2, …');
export const pathSchema = z.enum(['old', 'new', 'shadow']);

export const createRolloutSchema = z.strictObject({
  key: rolloutKeySchema,
  description: description.optional(),
  salt: salt.optional(),
  plan: planSchema,
  guards: guardsSchema.optional(),
  onBreach: onBreachSchema.optional(),
  autoAdvance: z.boolean().optional(),
  compare: compareRulesSchema.optional(),
});

export const patchRolloutSchema = z
  .strictObject({
    description: description.optional(),
    salt: salt.optional(),
    plan: planSchema.optional(),
    guards: guardsSchema.optional(),
    onBreach: onBreachSchema.optional(),
    autoAdvance: z.boolean().optional(),
    /** Replaces the rollout's comparison rules; null clears them. */
    compare: compareRulesSchema.nullable().optional(),
    reason: reasonSchema.optional(),
  })
  .refine((patch) => Object.keys(patch).some((field) => field !== 'reason'), 'nothing to change');

/** A create's or a patch's query: `dryRun=true` checks it and answers what it would make, writing nothing. */
export const writeQuerySchema = z.strictObject({
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: check the change by the same rules and answer the rollout it would make, writing nothing (no audit entry, no new version, no event); refused as the write would be, with every refusal in details.refusals'),
});

export const transitionBodySchema = z.strictObject({ reason: reasonSchema.optional() }).optional();
/** `force`: advance a paused rollout anyway (it stays paused; reverted cohorts stay reverted). */
export const advanceBodySchema = z.strictObject({ reason: reasonSchema.optional(), force: z.boolean().optional() }).optional();

export const resumeBodySchema = z
  .strictObject({ reason: reasonSchema.optional(), cohorts: z.array(cohortNameSchema).max(100).optional() })
  .optional();

export const revertBodySchema = z.strictObject({ cohort: cohortNameSchema.optional(), reason: reasonSchema });

export const pinBodySchema = z.strictObject({ path: pathSchema, reason: reasonSchema.optional() });

export const unpinBodySchema = z.strictObject({ reason: reasonSchema.optional() }).optional();

export type CreateRolloutInput = z.output<typeof createRolloutSchema>;
export type PatchRolloutInput = z.output<typeof patchRolloutSchema>;
