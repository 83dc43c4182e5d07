/** /v1/keys: admin only (see http/auth.ts). A new key is in the 201 response and nowhere else, ever. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { jsonBody, limitQuery, queryOf } from '../http/validate.ts';
import { KEY_KINDS } from './key-format.ts';
import { createdKeySchema, keyListSchema, keyViewSchema, pruneResultSchema } from './responses.ts';
import { PRUNE_MIN_DAYS, type KeyService } from './service.ts';

const createKeySchema = z.strictObject({
  kind: z.enum(KEY_KINDS),
  name: z.string().trim().min(1, 'name the key after who or what uses it').max(200),
});
const reasonBodySchema = z.strictObject({ reason: z.string().trim().min(1).max(1000).optional() }).optional();
const pruneSchema = z
  .strictObject({
    apply: z.boolean().default(false),
    unusedDays: z.number().int().min(PRUNE_MIN_DAYS, `keys used in the last ${PRUNE_MIN_DAYS} days are never pruned`).max(3650).default(90),
  })
  .default({ apply: false, unusedDays: 90 });
const listQuerySchema = z.strictObject({ limit: limitQuery, after: z.string().max(64).optional() });

export function keyRoutes(keys: KeyService) {
  const app = new Hono<AppEnv>();

  app.post('/', describe({ summary: 'Create a key (shown once)', success: { status: 201, description: 'the key' }, response: createdKeySchema }), jsonBody(createKeySchema), async (c) => c.json(await keys.create(c.req.valid('json'), c.var.principal.keyId), 201));

  app.get('/', describe({ summary: 'List keys (never the keys themselves)', response: keyListSchema }), queryOf(listQuerySchema), async (c) => c.json(await keys.list(c.req.valid('query'))));

  app.post('/prune', describe({ summary: 'Revoke keys unused for a while (a dry run unless apply)', response: pruneResultSchema }), jsonBody(pruneSchema), async (c) => c.json(await keys.prune(c.req.valid('json'), c.var.principal.keyId)));

  app.post('/:id/revoke', describe({ summary: 'Revoke a key', response: keyViewSchema, errors: [409] }), jsonBody(reasonBodySchema), async (c) =>
    c.json(await keys.revoke(c.req.param('id'), c.var.principal.keyId, c.req.valid('json')?.reason)),
  );

  app.post('/:id/restore', describe({ summary: 'Restore a revoked key', response: keyViewSchema, errors: [409] }), jsonBody(reasonBodySchema), async (c) =>
    c.json(await keys.restore(c.req.param('id'), c.var.principal.keyId, c.req.valid('json')?.reason)),
  );

  return app;
}

