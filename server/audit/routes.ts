/** GET /v1/audit?rollout=&limit=&before=: who changed what, before and after, why. Newest first. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { intQuery, limitQuery, queryOf } from '../http/validate.ts';
import { auditPageSchema } from './responses.ts';
import { listAudit, type AuditRow } from './store.ts';

const auditQuerySchema = z.strictObject({
  rollout: z.string().max(64).optional(),
  before: intQuery(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: limitQuery,
});

export function auditView(row: AuditRow) {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    rollout: row.rolloutKey,
    subject: row.subject,
    before: row.before,
    after: row.after,
    reason: row.reason,
  };
}

export function auditRoutes(database: Database) {
  const app = new Hono<AppEnv>();
  app.get('/', describe({ summary: 'The audit log, newest first', response: auditPageSchema }), queryOf(auditQuerySchema), async (c) => {
    const query = c.req.valid('query');
    const rows = await listAudit(database.db, { rolloutKey: query.rollout, before: query.before, limit: query.limit });
    return c.json({
      items: rows.map(auditView),
      nextCursor: rows.length === query.limit ? String(rows[rows.length - 1]!.id) : null,
    });
  });
  return app;
}
