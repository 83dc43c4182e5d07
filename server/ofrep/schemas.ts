/** What OFREP answers, as zod schemas tied to the evaluation's types; /openapi.json describes the routes with them. */
import { z } from 'zod';
import { ROLLOUT_STATES } from '../../sdk/snapshot.ts';
import { errorRef, schemaRef } from '../http/openapi.ts';
import { named, type Same } from '../http/responses.ts';
import type { OfrepSuccess } from './evaluate.ts';
import type { OfrepErrorCode } from './request.ts';

const path = z.enum(['old', 'new', 'shadow']);

export const evaluationSuccessSchema = named('OfrepEvaluation', z.strictObject({
  key: z.string().describe('the rollout key'),
  value: path.describe("the partner's path"),
  variant: path,
  reason: z.enum(['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED']).describe('SPLIT: by cohort or shadow band; TARGETING_MATCH: a pin; STATIC: completed; DISABLED: draft or reverted'),
  metadata: z.strictObject({
    rollout: z.string(),
    cohort: z.string().describe('c1…, shadow, baseline, pinned or completed: where this partner is measured'),
    version: z.number().int(),
    state: z.enum(ROLLOUT_STATES),
  }),
}));

const errorCodes = ['PARSE_ERROR', 'INVALID_CONTEXT', 'TARGETING_KEY_MISSING'] as const satisfies readonly OfrepErrorCode[];

export const evaluationFailureSchema = named('OfrepEvaluationFailure', z.strictObject({ key: z.string(), errorCode: z.enum(errorCodes), errorDetails: z.string() }));
export const flagNotFoundSchema = named('OfrepFlagNotFound', z.strictObject({ key: z.string(), errorCode: z.literal('FLAG_NOT_FOUND'), errorDetails: z.string() }));
export const bulkSuccessSchema = named('OfrepBulkEvaluation', z.strictObject({
  flags: z.array(evaluationSuccessSchema),
  metadata: z.strictObject({ version: z.number().int().describe('the snapshot version evaluated') }),
}));
export const bulkFailureSchema = named('OfrepBulkFailure', z.strictObject({ errorCode: z.enum(errorCodes), errorDetails: z.string() }));

// A change to the evaluation's shape that the schema does not follow fails to compile here.
const tied: Same<z.output<typeof evaluationSuccessSchema>, OfrepSuccess> = true;
void tied;

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schemaRef(schema) } } });

/** The responses common to both routes. */
const common = {
  '401': errorRef(401),
  '403': errorRef(403),
  '413': errorRef(413),
  '429': errorRef(429),
  '503': errorRef(503),
};

export const singleResponses = {
  '200': json(evaluationSuccessSchema, "the partner's path"),
  '400': json(evaluationFailureSchema, 'PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING'),
  '404': json(flagNotFoundSchema, 'no rollout with this key'),
  ...common,
};

export const bulkResponses = {
  '200': { ...json(bulkSuccessSchema, 'every rollout for this partner'), headers: { ETag: { description: 'a strong ETag over the body', schema: { type: 'string' } } } },
  '304': { description: 'If-None-Match named the current ETag: nothing changed for this partner' },
  '400': json(bulkFailureSchema, 'PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING'),
  ...common,
};
