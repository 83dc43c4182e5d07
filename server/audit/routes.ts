/** GET /v1/audit?rollout=&limit=&before=: who changed what, before and after, why. Newest first. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { intQuery, limitQuery, queryOf } from '../http/validate.ts';
import { auditPageSchema } from './responses.ts';
import type { AuditService } from './service.ts';

const auditQuerySchema = z.strictObject({
  rollout: z.string().max(64).optional(),
  before: intQuery(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: limitQuery,
});

export function auditRoutes(audit: AuditService) {
  const app = new Hono<AppEnv>();
  app.get('/', describe({ summary: 'The audit log, newest first', response: auditPageSchema }), queryOf(auditQuerySchema), async (c) => c.json(await audit.page(c.req.valid('query'))));
  return app;
}
