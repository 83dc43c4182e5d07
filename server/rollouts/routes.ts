/** /v1/rollouts: parse, call the service, map the result. */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { ifMatchVersion, versionTag } from '../http/if-match.ts';
import { jsonBody, limitQuery, paramsOf, queryOf } from '../http/validate.ts';
import type { LifecycleCommand } from './lifecycle.ts';
import {
  advanceBodySchema,
  createRolloutSchema,
  patchRolloutSchema,
  pinBodySchema,
  resumeBodySchema,
  revertBodySchema,
  rolloutKeySchema,
  transitionBodySchema,
  unpinBodySchema,
  writeQuerySchema,
} from './schemas.ts';
import type { RolloutService } from './service.ts';
import type { RolloutAggregate } from './model.ts';
import { rolloutView, type RolloutView } from './view.ts';
import { rolloutViewSchema, type rolloutResponses } from './responses.ts';

const listQuerySchema = z.strictObject({ limit: limitQuery, after: rolloutKeySchema.optional() });
const pinParamsSchema = z.object({
  key: z.string(),
  partnerId: z.string().min(1).max(256, 'a partner id is at most 256 characters'),
});

function respond(c: Context, view: RolloutView, status: 200 | 201 = 200): Response {
  c.header('ETag', versionTag(view.version));
  return c.json(view, status);
}

/**
 * `healthOf` gives the per-cohort health summary that GET /v1/rollouts/:key carries, from the rollout as
 * loaded; `statusOf` the status a list item carries, with when it was measured (the status board);
 * `schemas` the list's and the item's response schemas, with the health domain's parts.
 */
export function rolloutRoutes(
  rollouts: RolloutService,
  healthOf: (aggregate: RolloutAggregate) => Promise<unknown>,
  statusOf: (aggregate: RolloutAggregate) => Promise<{ health: unknown; at: number }>,
  schemas: ReturnType<typeof rolloutResponses>,
) {
  // Every change answers the rollout; the rules refuse some (409), and so does an If-Match naming an older version.
  const changed = { response: rolloutViewSchema, errors: [409] as const };
  const app = new Hono<AppEnv>();

  // A dry run answers what the write would, without its Location or ETag: nothing was stored under them.
  const dryRun = { status: 200, description: 'dryRun=true: the rollout the write would make; nothing was written' };
  app.post('/', describe({ summary: 'Create a rollout (draft), or check one (dryRun)', success: { status: 201, description: 'the rollout' }, alsoSuccess: dryRun, ...changed }), queryOf(writeQuerySchema), jsonBody(createRolloutSchema), async (c) => {
    if (c.req.valid('query').dryRun === 'true') return c.json(await rollouts.createDryRun(c.req.valid('json')), 200);
    const view = await rollouts.create(c.req.valid('json'), { actor: c.var.principal.keyId });
    c.header('Location', `/v1/rollouts/${view.key}`);
    return respond(c, view, 201);
  });

  app.get('/', describe({ summary: 'List rollouts', response: schemas.list }), queryOf(listQuerySchema), async (c) =>
    c.json(
      await rollouts.list(c.req.valid('query'), async (aggregate) => {
        const { health, at } = await statusOf(aggregate);
        return { health, healthAt: new Date(at).toISOString() };
      }),
    ),
  );

  app.get('/:key', describe({ summary: 'A rollout with its cohorts, pins and health summary', response: schemas.item }), async (c) => {
    const aggregate = await rollouts.get(c.req.param('key'));
    c.header('ETag', versionTag(aggregate.rollout.version));
    return c.json({ ...rolloutView(aggregate), health: await healthOf(aggregate) });
  });

  app.patch(
    '/:key',
    describe({ summary: 'Change description, future steps, guards, onBreach or autoAdvance, or check the change (dryRun)', success: { status: 200, description: 'the rollout; with dryRun=true, as the change would leave it (nothing was written)' }, ...changed }),
    queryOf(writeQuerySchema),
    jsonBody(patchRolloutSchema),
    async (c) => {
      const patch = c.req.valid('json');
      if (c.req.valid('query').dryRun === 'true') return c.json(await rollouts.patchDryRun(c.req.param('key'), patch, { ifMatch: ifMatchVersion(c) }));
      const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: patch.reason };
      return respond(c, await rollouts.patch(c.req.param('key'), patch, request));
    },
  );

  app.post('/:key/advance', describe({ summary: 'Lifecycle: advance (a paused rollout only with force: it stays paused)', ...changed }), jsonBody(advanceBodySchema), async (c) => {
    const body = c.req.valid('json');
    const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: body?.reason };
    return respond(c, await rollouts.transition(c.req.param('key'), { action: 'advance', force: body?.force }, request));
  });

  for (const action of ['start', 'pause', 'complete'] as const) {
    app.post(`/:key/${action}`, describe({ summary: `Lifecycle: ${action}`, ...changed }), jsonBody(transitionBodySchema), async (c) => {
      const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: c.req.valid('json')?.reason };
      return respond(c, await rollouts.transition(c.req.param('key'), { action }, request));
    });
  }

  app.post('/:key/resume', describe({ summary: 'Lifecycle: resume (re-activates cohorts reverted by a breach, and those named)', ...changed }), jsonBody(resumeBodySchema), async (c) => {
    const body = c.req.valid('json');
    const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: body?.reason };
    const command: LifecycleCommand = { action: 'resume', cohorts: body?.cohorts };
    return respond(c, await rollouts.transition(c.req.param('key'), command, request));
  });

  app.post('/:key/revert', describe({ summary: 'Revert one cohort, or the whole rollout', ...changed }), jsonBody(revertBodySchema), async (c) => {
    const body = c.req.valid('json');
    const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: body.reason };
    const command: LifecycleCommand = { action: 'revert', cohort: body.cohort, kind: 'manual' };
    return respond(c, await rollouts.transition(c.req.param('key'), command, request));
  });

  app.put('/:key/pins/:partnerId', describe({ summary: 'Pin a partner to a path', ...changed }), paramsOf(pinParamsSchema), jsonBody(pinBodySchema), async (c) => {
    const { key, partnerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: body.reason };
    return respond(c, await rollouts.setPin(key, partnerId, body.path, request));
  });

  app.delete('/:key/pins/:partnerId', describe({ summary: 'Remove a pin', ...changed }), paramsOf(pinParamsSchema), jsonBody(unpinBodySchema), async (c) => {
    const { key, partnerId } = c.req.valid('param');
    const request = { actor: c.var.principal.keyId, ifMatch: ifMatchVersion(c), reason: c.req.valid('json')?.reason };
    return respond(c, await rollouts.removePin(key, partnerId, request));
  });

  return app;
}
