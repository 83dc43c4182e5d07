/**
 * POST /v1/sdk/reports: batched accounting from SDKs, gzip or plain JSON,
 * acknowledged once committed. GET /v1/rollouts/:key/mismatches: samples.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { AppError, badRequest, notFound } from '../errors.ts';
import type { AppEnv } from '../http/auth.ts';
import { intQuery, issuesOf, limitQuery, queryOf } from '../http/validate.ts';
import { findRollout } from '../rollouts/store.ts';
import type { Ingester } from './ingester.ts';
import { cohortSchema, reportBatchSchema } from './schemas.ts';
import { listNoise, listSamples } from './store.ts';

const gunzipAsync = promisify(gunzip);
/** A compressed body is at most 1 MiB (the body limit); it may not inflate past this. */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;
const MAX_CLOCK_OFFSET_MS = 86_400_000;

async function readReport(raw: Uint8Array, encoding: string): Promise<unknown> {
  let bytes: Uint8Array = raw;
  if (encoding === 'gzip') {
    try {
      bytes = await gunzipAsync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
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

export function reportRoutes(ingester: Ingester, clock: Clock) {
  const app = new Hono<AppEnv>();
  app.post('/reports', async (c) => {
    const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
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
  });
  return app;
}

const mismatchQuerySchema = z.strictObject({
  cohort: cohortSchema.optional(),
  before: intQuery(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: limitQuery,
});

export function mismatchRoutes(database: Database) {
  const app = new Hono<AppEnv>();
  app.get('/:key/mismatches', queryOf(mismatchQuerySchema), async (c) => {
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
