/**
 * The body of an OFREP evaluation, `{ context: { targetingKey, … } }`, read
 * into the partner id or into the protocol's error codes: PARSE_ERROR for a
 * body that is not JSON, INVALID_CONTEXT for one of the wrong shape,
 * TARGETING_KEY_MISSING when there is no partner to evaluate for.
 */
import { z } from 'zod';

export const evaluationRequestSchema = z.looseObject({
  context: z
    .looseObject({ targetingKey: z.string().optional().describe('the partner id') })
    .describe('the evaluation context; other attributes are accepted and ignored'),
});

/** The bulk route's query: what a provider sends back after a change event (OFREP ADR-0008). */
export const bulkQuerySchema = z.looseObject({
  flagConfigEtag: z
    .string()
    .optional()
    .describe("the etag of the refetchEvaluation event that prompted this request: a server that has not yet seen that configuration reads it before answering"),
  flagConfigLastModified: z.string().optional().describe('accepted and ignored: Rollcall sends no lastModified'),
});

export type OfrepErrorCode = 'PARSE_ERROR' | 'INVALID_CONTEXT' | 'TARGETING_KEY_MISSING';

export type ParsedRequest = { ok: true; partnerId: string } | { ok: false; errorCode: OfrepErrorCode; errorDetails: string };

export function parseEvaluationRequest(text: string): ParsedRequest {
  if (text.trim() === '') return { ok: false, errorCode: 'INVALID_CONTEXT', errorDetails: 'send { "context": { "targetingKey": "<partner id>" } }' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { ok: false, errorCode: 'PARSE_ERROR', errorDetails: `the body is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = evaluationRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, errorCode: 'INVALID_CONTEXT', errorDetails: `${issue.path.join('.') || 'body'}: ${issue.message}` };
  }
  const partnerId = parsed.data.context.targetingKey;
  if (partnerId === undefined || partnerId === '') {
    return { ok: false, errorCode: 'TARGETING_KEY_MISSING', errorDetails: 'set context.targetingKey to the partner id' };
  }
  return { ok: true, partnerId };
}
