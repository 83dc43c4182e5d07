/**
 * GET /v1/rollouts/:key/lost: lost messages by id, a page at a time.
 * POST /v1/sdk/replay/{claim,ack}: the SDK's replay of lost messages.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { iso } from '../clock.ts';
import { badRequest } from '../errors.ts';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { jsonBody, limitQuery, queryOf } from '../http/validate.ts';
import { cohortSchema } from '../reports/schemas.ts';
import { rolloutKeySchema } from '../rollouts/schemas.ts';
import { ackedSchema, claimedSchema, LOST_STATUSES, lostPageSchema } from './responses.ts';
import type { LostService } from './service.ts';

const STATUSES = LOST_STATUSES;

const lostQuerySchema = z.strictObject({
  status: z.union([z.enum(STATUSES), z.array(z.enum(STATUSES)).max(3)]).optional(),
  cohort: cohortSchema.optional(),
  after: z.string().max(400).optional(),
  limit: limitQuery,
});

const claimSchema = z.strictObject({
  instanceId: z.string().min(1).max(64),
  rollouts: z.array(rolloutKeySchema).min(1).max(50),
  limit: z.number().int().min(1).max(500).default(100),
  leaseSeconds: z.number().int().min(5).max(3_600).default(60),
});

const ackSchema = z.strictObject({
  instanceId: z.string().min(1).max(64),
  items: z
    .array(z.strictObject({ rollout: rolloutKeySchema, messageId: z.string().min(1).max(256), ok: z.boolean(), error: z.string().max(500).optional() }))
    .min(1)
    .max(500),
});

const cursorOf = (row: { receivedAt: number | null; messageId: string }) => Buffer.from(JSON.stringify([row.receivedAt ?? 0, row.messageId])).toString('base64url');

function parseCursor(text: string): { receivedAt: number; messageId: string } {
  try {
    const [receivedAt, messageId] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof receivedAt === 'number' && typeof messageId === 'string') return { receivedAt, messageId };
  } catch {
    // falls through to the 400
  }
  throw badRequest('invalid_query', 'the cursor is not one this server handed out');
}

export function lostRoutes(lost: LostService) {
  const app = new Hono<AppEnv>();
  app.get('/:key/lost', describe({ summary: 'Lost messages by id', response: lostPageSchema }), queryOf(lostQuerySchema), async (c) => {
    const rolloutId = await lost.rolloutId(c.req.param('key'));
    const query = c.req.valid('query');
    const statuses = query.status === undefined ? STATUSES : Array.isArray(query.status) ? query.status : [query.status];
    const after = query.after === undefined ? undefined : parseCursor(query.after);
    const rows = await lost.list(rolloutId, { statuses: [...statuses], cohort: query.cohort, after, limit: query.limit });
    return c.json({
      items: rows.map((r) => ({
        messageId: r.messageId,
        partnerId: r.partnerId,
        cohort: r.cohort,
        path: r.path,
        status: r.status,
        receivedAt: iso(r.receivedAt),
        settledAt: iso(r.settledAt),
        replayAttempts: r.replayAttempts,
      })),
      nextCursor: rows.length === query.limit ? cursorOf(rows[rows.length - 1]!) : null,
    });
  });
  return app;
}

/** The SDK's side: lease lost messages, and say how their replay went. */
export function replayRoutes(lost: LostService) {
  const app = new Hono<AppEnv>();
  app.post('/replay/claim', describe({ summary: 'Lease lost messages to replay', response: claimedSchema }), jsonBody(claimSchema), async (c) => c.json(await lost.claim(c.req.valid('json'))));
  app.post('/replay/ack', describe({ summary: 'Acknowledge replayed messages', response: ackedSchema }), jsonBody(ackSchema), async (c) => c.json(await lost.ack(c.req.valid('json'))));
  return app;
}
