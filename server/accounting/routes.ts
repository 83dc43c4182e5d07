/**
 * POST /v1/sdk/reports: batched accounting from SDKs, gzip or plain JSON,
 * acknowledged once committed. GET /v1/rollouts/:key/mismatches: samples.
 */
import { gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { z } from 'zod';
import { iso, type Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { AppError, badRequest, notFound } from '../errors.ts';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { intQuery, issuesOf, jsonBody, limitQuery, queryOf } from '../http/validate.ts';
import { rolloutKeySchema } from '../rollouts/schemas.ts';
import { findRollout, loadAggregate } from '../rollouts/store.ts';
import { measureRollout } from './health.ts';
import { healthView } from './health-view.ts';
import type { Ingester } from './ingester.ts';
import type { Replay } from './replay.ts';
import { cohortSchema, reportBatchSchema } from './schemas.ts';
import { listLedger, listNoise, listSamples } from './store.ts';

/** A compressed body is at most 1 MiB (the body limit); it may not inflate past this. */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;
const MAX_CLOCK_OFFSET_MS = 86_400_000;

async function readReport(raw: Uint8Array, encoding: string): Promise<unknown> {
  let bytes: Uint8Array = raw;
  if (encoding === 'gzip') {
    try {
      // Inflated on the main thread: a compressed report is at most 1 MiB, and zlib on the
      // thread pool leaves memory in per-thread malloc arenas that the server never gets back.
      bytes = gunzipSync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new AppError(413, 'payload_too_large', `the report inflates past ${MAX_INFLATED_BYTES} bytes`);
      }
      throw badRequest('invalid_gzip', 'the body is not valid gzip');
    }
  } else if (encoding !== 'identity') {
    throw new AppError(415, 'unsupported_media_type', 'send reports as JSON, plain or with Content-Encoding: gzip');
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw badRequest('invalid_json', `the report is not valid JSON: ${(error as Error).message}`);
  }
}

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

/** At most `limit` holders at once; the rest wait in order. */
function semaphore(limit: number) {
  let held = 0;
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<() => void> {
      if (held >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else held++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next !== undefined) next();
        else held--;
      };
    },
  };
}

/**
 * Reports inflated, parsed and waiting for their commit at once. Parsing is
 * one thread's work anyway; the bound keeps the server's memory flat however
 * many SDKs send at the same moment (the others wait with their bodies unread).
 */
export const REPORTS_IN_PROGRESS = 2;

/** The SDK's side: reports, and the replay of lost messages. */
export function sdkAccountingRoutes(ingester: Ingester, replay: Replay, clock: Clock) {
  const app = new Hono<AppEnv>();
  const slots = semaphore(REPORTS_IN_PROGRESS);

  app.post('/replay/claim', describe('Lease lost messages to replay'), jsonBody(claimSchema), async (c) => c.json(await replay.claim(c.req.valid('json'))));

  app.post('/replay/ack', describe('Acknowledge replayed messages'), jsonBody(ackSchema), async (c) => c.json(await replay.ack(c.req.valid('json'))));

  app.post('/reports', describe({ summary: 'A batch of accounting reports (JSON, or gzip with Content-Encoding)', body: reportBatchSchema }), async (c) => {
    const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
    const release = await slots.acquire();
    try {
      const parsed = reportBatchSchema.safeParse(await readReport(new Uint8Array(await c.req.arrayBuffer()), encoding));
      if (!parsed.success) {
        throw badRequest('invalid_body', `the report is not valid (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`, {
          issues: issuesOf(parsed.error).slice(0, 20),
        });
      }
      const sdkClock = Number(c.req.header('x-rollcall-clock'));
      const offset = Number.isFinite(sdkClock) && sdkClock > 0 ? clock.now() - sdkClock : 0;
      const clockOffset = Math.max(-MAX_CLOCK_OFFSET_MS, Math.min(MAX_CLOCK_OFFSET_MS, offset));
      return c.json(await ingester.submit({ batch: parsed.data, clockOffset }));
    } finally {
      release();
    }
  });
  return app;
}

const healthQuerySchema = z.strictObject({ window: intQuery(10, 7 * 86_400).optional() });

const lostQuerySchema = z.strictObject({
  status: z.union([z.enum(['lost', 'replayed', 'late']), z.array(z.enum(['lost', 'replayed', 'late'])).max(3)]).optional(),
  cohort: cohortSchema.optional(),
  after: z.string().max(400).optional(),
  limit: limitQuery,
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

const mismatchQuerySchema = z.strictObject({
  cohort: cohortSchema.optional(),
  before: intQuery(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: limitQuery,
});

export function accountingRoutes(database: Database, clock: Clock) {
  const app = new Hono<AppEnv>();

  app.get('/:key/health', describe('Health per cohort over a window: counts, rates, breaches, replay progress'), queryOf(healthQuerySchema), async (c) => {
    const key = c.req.param('key');
    const aggregate = await loadAggregate(database.db, key);
    if (aggregate === undefined) throw notFound('rollout', key);
    const health = await measureRollout(database.db, aggregate, { now: clock.now(), windowSeconds: c.req.valid('query').window });
    return c.json(healthView(health, aggregate.rollout.guards));
  });

  app.get('/:key/lost', describe('Lost messages by id'), queryOf(lostQuerySchema), async (c) => {
    const key = c.req.param('key');
    const rollout = await findRollout(database.db, key);
    if (rollout === undefined) throw notFound('rollout', key);
    const query = c.req.valid('query');
    const statuses = query.status === undefined ? (['lost', 'replayed', 'late'] as const) : Array.isArray(query.status) ? query.status : [query.status];
    const rows = await listLedger(database.db, {
      rolloutId: rollout.id,
      statuses: [...statuses],
      cohort: query.cohort,
      after: query.after === undefined ? undefined : parseCursor(query.after),
      limit: query.limit,
    });
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

  app.get('/:key/mismatches', describe('Mismatch samples with their diffs, and learned noise'), queryOf(mismatchQuerySchema), async (c) => {
    const key = c.req.param('key');
    const rollout = await findRollout(database.db, key);
    if (rollout === undefined) throw notFound('rollout', key);
    const query = c.req.valid('query');
    const rows = await listSamples(database.db, { rolloutId: rollout.id, ...query });
    return c.json({
      items: rows.map((r) => ({
        id: r.id,
        cohort: r.cohort,
        at: new Date(r.at).toISOString(),
        messageId: r.messageId,
        partnerId: r.partnerId,
        authoritative: r.authoritative,
        kind: r.kind,
        diffs: r.diffs,
      })),
      nextCursor: rows.length === query.limit ? String(rows[rows.length - 1]!.id) : null,
      learnedNoise: await listNoise(database.db, rollout.id),
    });
  });
  return app;
}
