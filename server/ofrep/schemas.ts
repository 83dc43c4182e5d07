/** What OFREP answers, as zod schemas tied to the evaluation's types; /openapi.json describes the routes with them. */
import { z } from 'zod';
import { ROLLOUT_STATES } from '@rollcall/protocol';
import { errorRef, schemaRef, toSchema } from '../http/openapi.ts';
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
/** ADR-0008's `eventStream`, as Rollcall fills it: one SSE stream, relative to the provider's base URL. */
export const eventStreamSchema = z.strictObject({
  type: z.literal('sse'),
  endpoint: z.strictObject({ requestUri: z.string().describe("the stream's path; the provider adds the origin of its OFREP base URL") }),
});
/** The JSON in each event's `data` (ADR-0008's `sseEventData`). */
export const refetchEventSchema = z.strictObject({
  type: z.literal('refetchEvaluation'),
  etag: z.string().describe("the flag configuration's ETag; send it back as ?flagConfigEtag="),
});
export const bulkSuccessSchema = named('OfrepBulkEvaluation', z.strictObject({
  flags: z.array(evaluationSuccessSchema),
  eventStreams: z.array(eventStreamSchema).describe('where to hear of changes instead of polling (OFREP ADR-0008)'),
  metadata: z.strictObject({
    version: z.number().int().describe('the snapshot version evaluated'),
    flagConfigEtag: z.string().describe('the ETag of the flag configuration evaluated, as the event stream sends it'),
  }),
}));
export const bulkFailureSchema = named('OfrepBulkFailure', z.strictObject({ errorCode: z.enum(errorCodes), errorDetails: z.string() }));

// A change to the evaluation's shape that the schema does not follow fails to compile here.
const tied: Same<z.output<typeof evaluationSuccessSchema>, OfrepSuccess> = true;
void tied;

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schemaRef(schema) } } });

/** The responses common to every OFREP route (413 only to those that take a body). */
const common = {
  '401': errorRef(401),
  '403': errorRef(403),
  '429': errorRef(429),
  '503': errorRef(503),
};

export const singleResponses = {
  '200': json(evaluationSuccessSchema, "the partner's path"),
  '400': json(evaluationFailureSchema, 'PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING'),
  '404': json(flagNotFoundSchema, 'no rollout with this key'),
  '413': errorRef(413),
  ...common,
};

export const bulkResponses = {
  '200': { ...json(bulkSuccessSchema, 'every rollout for this partner'), headers: { ETag: { description: 'a strong ETag over the body', schema: { type: 'string' } } } },
  '304': { description: 'If-None-Match named the current ETag: nothing changed for this partner' },
  '400': json(bulkFailureSchema, 'PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING'),
  '413': errorRef(413),
  ...common,
};

export const eventStreamResponses = {
  '200': {
    description:
      'Server-Sent Events (OFREP ADR-0008): on connect and on every change, `event: message`, `id: <etag>` and `data: {"type":"refetchEvaluation","etag":"<etag>"}`; a comment every 15 s as a heartbeat. Nothing is sent on connect when Last-Event-ID names the current configuration.',
    content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-data': toSchema(refetchEventSchema) } },
  },
  ...common,
};
