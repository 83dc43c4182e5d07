/** What the callbacks API answers, as zod schemas tied to the service's views at compile time. Secrets appear only where made. */
import { z } from 'zod';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import type { CallbackService } from './service.ts';
import type { callbackView, deliveryView } from './view.ts';

export const callbackViewSchema = named(
  'Callback',
  z.strictObject({
    id: z.string(),
    url: z.string(),
    rollout: z.string().nullable().describe('null: every rollout'),
    events: z.array(z.string()).nullable().describe('null: every event'),
    description: z.string(),
    status: z.enum(['enabled', 'disabled', 'deleted']),
    statusReason: z.string().nullable(),
    previousSecretExpiresAt: isoTime.nullable().describe('until when the secret before the last rotation also signs'),
    createdAt: isoTime,
    createdBy: z.string(),
    updatedAt: isoTime,
  }),
);

const secret = z.string().describe('a whsec_… Standard Webhooks secret: shown in this response and nowhere else');

export const createdCallbackSchema = named('CreatedCallback', z.strictObject({ ...callbackViewSchema.shape, secret }));
export const callbackListSchema = named('CallbackList', pageOf(callbackViewSchema));
export const rotatedSecretSchema = named('RotatedSecret', z.strictObject({ id: z.string(), secret, previousSecretExpiresAt: isoTime }));

const attemptSchema = z.strictObject({
  at: isoTime,
  status: z.number().int().nullable().describe('the receiver\'s HTTP status; null when none came back'),
  latencyMs: z.number().int(),
  error: z.string().nullable(),
  responseExcerpt: z.string().nullable(),
  address: z.string().nullable(),
  nextAttemptAt: isoTime.nullable(),
});

export const deliverySchema = named(
  'Delivery',
  z.strictObject({
    id: z.string(),
    messageId: z.string().describe('the webhook-id, stable across retries'),
    type: z.string(),
    rollout: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']),
    mode: z.enum(['schedule', 'once']),
    nextAttemptAt: isoTime.nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: isoTime,
    finishedAt: isoTime.nullable(),
    attempts: z.array(attemptSchema),
  }),
);

export const deliveryListSchema = named('DeliveryList', pageOf(deliverySchema));
export const retriedSchema = named('DeliveryRetry', z.strictObject({ id: z.string(), status: z.literal('pending'), nextAttemptAt: isoTime }));
export const recoveredSchema = named(
  'CallbackRecovery',
  z.strictObject({ queued: z.number().int(), deliveries: z.array(z.string()), more: z.boolean().describe('true: the limit was reached; call again for the rest') }),
);

export const testSentSchema = named(
  'CallbackTestSent',
  z.strictObject({ message: z.string().describe('the webhook-id of the callback.test event'), delivery: z.string(), status: z.literal('pending') }),
);

type Answer<K extends keyof CallbackService> = Awaited<ReturnType<CallbackService[K]>>;
const tied: [
  Same<z.output<typeof callbackViewSchema>, ReturnType<typeof callbackView>>,
  Same<z.output<typeof deliverySchema>, ReturnType<typeof deliveryView>>,
  Same<z.output<typeof createdCallbackSchema>, Answer<'create'>>,
  Same<z.output<typeof callbackListSchema>, Answer<'list'>>,
  Same<z.output<typeof callbackViewSchema>, Answer<'enable'>>,
  Same<z.output<typeof rotatedSecretSchema>, Answer<'rotateSecret'>>,
  Same<z.output<typeof deliveryListSchema>, Answer<'deliveries'>>,
  Same<z.output<typeof retriedSchema>, Answer<'retry'>>,
  Same<z.output<typeof recoveredSchema>, Answer<'recover'>>,
  Same<z.output<typeof testSentSchema>, Answer<'sendTest'>>,
] = [true, true, true, true, true, true, true, true, true, true];
void tied;
