/** The snapshot `GET /v1/sdk/config` answers (and the stream sends), as a zod schema tied to the SDK's wire type at compile time. */
import { z } from 'zod';
import { ROLLOUT_STATES, type ConfigSnapshot } from '@rollcall/protocol';
import { named, type Same } from '../http/responses.ts';
import { compareRulesSchema } from '../rollouts/compare-rules.ts';
import { pathSchema } from '../rollouts/schemas.ts';

const basisPoints = z.number().int().min(0).max(10_000);

const rolloutSnapshotSchema = named(
  'RolloutSnapshot',
  z.strictObject({
    key: z.string(),
    salt: z.string(),
    state: z.enum(ROLLOUT_STATES),
    reason: z.string().nullable().optional(),
    version: z.number().int(),
    step: z.number().int().nullable(),
    live: basisPoints.describe('partners below this position are inside a cohort'),
    shadow: basisPoints.describe('partners at or past live and below this run in shadow'),
    verify: z.number().min(0).max(1),
    cohorts: z.array(
      z.strictObject({ name: z.string(), from: basisPoints, to: basisPoints, status: z.enum(['active', 'reverted']), reason: z.string().nullable().optional() }),
    ),
    pins: z.array(z.strictObject({ partnerId: z.string(), path: pathSchema })),
    compare: compareRulesSchema.optional(),
  }),
);

export const configSnapshotSchema = named(
  'ConfigSnapshot',
  z.strictObject({
    version: z.number().int().min(0).describe('the sum of the rollouts\' versions: a lower one is stale'),
    rollouts: z.array(rolloutSnapshotSchema),
  }),
);

const tied: Same<z.output<typeof configSnapshotSchema>, ConfigSnapshot> = true;
void tied;
