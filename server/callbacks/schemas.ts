/** Request bodies and queries of the callbacks API. */
import { z } from 'zod';
import { intQuery, limitQuery } from '../http/validate.ts';
import { rolloutKeySchema } from '../rollouts/schemas.ts';
import { CALLBACK_EVENTS } from './events.ts';

export const MAX_URL_LENGTH = 2048;

/** An absolute http(s) URL with a host and no credentials. Where it may connect is checked on every attempt. */
export const callbackUrl = z
  .string()
  .trim()
  .max(MAX_URL_LENGTH)
  .superRefine((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http:// or https:// URL' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must use http or https, not ${url.protocol.slice(0, -1)}` });
    if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not carry credentials; the signature authenticates Rollcall to the receiver' });
    if (url.hostname === '') ctx.addIssue({ code: 'custom', message: 'must name a host' });
    if (url.hash !== '') ctx.addIssue({ code: 'custom', message: 'must not have a #fragment' });
  });

export const createCallbackSchema = z.strictObject({
  url: callbackUrl,
  rollout: rolloutKeySchema.optional(),
  events: z.array(z.enum(CALLBACK_EVENTS)).min(1).max(CALLBACK_EVENTS.length).optional(),
  description: z.string().trim().max(500).optional(),
});
export type CreateCallbackInput = z.output<typeof createCallbackSchema>;

export const reasonSchema = z.strictObject({ reason: z.string().trim().min(1).max(1000).optional() }).optional();

export const listCallbacksQuery = z.strictObject({
  rollout: rolloutKeySchema.optional(),
  status: z.enum(['enabled', 'disabled', 'deleted', 'all']).optional(),
  after: z.string().max(64).optional(),
  limit: limitQuery,
});

export const listDeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']).optional(),
  /** The `nextCursor` of the previous page. */
  before: z.string().max(200).optional(),
  limit: intQuery(1, 200).default(50),
});

/** `since`: an ISO 8601 time or epoch milliseconds. */
export const recoverSchema = z.strictObject({
  since: z.union([
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
    z.number().int().min(0).max(8_640_000_000_000_000),
  ]),
});
