/** /v1/callbacks and /v1/deliveries: kill-switch subscriptions, their delivery log, redelivery. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { jsonBody, paramsOf, queryOf } from '../http/validate.ts';
import { createCallbackSchema, listCallbacksQuery, listDeliveriesQuery, reasonSchema, recoverSchema } from './schemas.ts';
import { callbackListSchema, callbackViewSchema, createdCallbackSchema, deliveryListSchema, recoveredSchema, retriedSchema, rotatedSecretSchema, testSentSchema } from './responses.ts';
import type { CallbackService } from './service.ts';

const callbackId = paramsOf(z.strictObject({ id: z.string().regex(/^cb_[0-9A-Za-z]{1,64}$/, 'a callback id looks like cb_…') }));
const deliveryId = paramsOf(z.strictObject({ id: z.string().regex(/^dlv_[0-9A-Za-z]{1,64}$/, 'a delivery id looks like dlv_…') }));

export function callbackRoutes(callbacks: CallbackService) {
  const app = new Hono<AppEnv>();
  const actor = (c: { var: AppEnv['Variables'] }) => c.var.principal.keyId;

  app.post('/', describe({ summary: 'Subscribe a URL (the secret is shown once)', success: { status: 201, description: 'the subscription and its secret' }, response: createdCallbackSchema }), jsonBody(createCallbackSchema), async (c) => c.json(await callbacks.create(c.req.valid('json'), actor(c)), 201));
  app.get('/', describe({ summary: 'List subscriptions', response: callbackListSchema }), queryOf(listCallbacksQuery), async (c) => c.json(await callbacks.list(c.req.valid('query'))));
  app.get('/:id', describe({ summary: 'A subscription', response: callbackViewSchema }), callbackId, async (c) => c.json(await callbacks.get(c.req.valid('param').id)));
  app.delete('/:id', describe({ summary: 'Delete a subscription (soft)', response: callbackViewSchema }), callbackId, async (c) => c.json(await callbacks.remove(c.req.valid('param').id, actor(c))));
  app.post('/:id/enable', describe({ summary: 'Enable a subscription', response: callbackViewSchema }), callbackId, jsonBody(reasonSchema), async (c) => c.json(await callbacks.enable(c.req.valid('param').id, actor(c), c.req.valid('json')?.reason)));
  app.post('/:id/disable', describe({ summary: 'Disable a subscription', response: callbackViewSchema }), callbackId, jsonBody(reasonSchema), async (c) => c.json(await callbacks.disable(c.req.valid('param').id, actor(c), c.req.valid('json')?.reason)));
  app.post('/:id/rotate-secret', describe({ summary: 'A new secret; the old one signs for 24 h more', response: rotatedSecretSchema, errors: [409] }), callbackId, jsonBody(z.strictObject({}).optional()), async (c) => c.json(await callbacks.rotateSecret(c.req.valid('param').id, actor(c))));
  app.get('/:id/deliveries', describe({ summary: 'The delivery log with every attempt', response: deliveryListSchema }), callbackId, queryOf(listDeliveriesQuery), async (c) => c.json(await callbacks.deliveries(c.req.valid('param').id, c.req.valid('query'))));
  app.post('/:id/test', describe({ summary: 'Send a signed callback.test event to this subscription now (one attempt, whatever its event filter)', success: { status: 202, description: 'the delivery queued' }, response: testSentSchema, errors: [409] }), callbackId, jsonBody(z.strictObject({}).optional()), async (c) => c.json(await callbacks.sendTest(c.req.valid('param').id, actor(c)), 202));
  app.post('/:id/recover', describe({ summary: 'Redeliver everything that failed since a time, oldest first, once each', response: recoveredSchema, errors: [409] }), callbackId, jsonBody(recoverSchema), async (c) => c.json(await callbacks.recover(c.req.valid('param').id, c.req.valid('json').since, actor(c))));

  return app;
}

export function deliveryRoutes(callbacks: CallbackService) {
  const app = new Hono<AppEnv>();
  app.post('/:id/retry', describe({ summary: 'Send one delivery again', response: retriedSchema, errors: [409] }), deliveryId, jsonBody(z.strictObject({}).optional()), async (c) => c.json(await callbacks.retry(c.req.valid('param').id, c.var.principal.keyId)));
  return app;
}
