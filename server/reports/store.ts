/**
 * Ingestion's writes, in plain SQL on the ingest connection (building them
 * with the query builder cost more CPU than running them). Counts and
 * histograms are added to (upserts), ledger rows move between statuses by
 * rules that do not depend on the order reports arrive in, and sample
 * inserts respect the per-minute limit.
 */
import type { InValue } from '@libsql/client';
import { COUNTERS } from '@rollcall/protocol';
import type { SqlRunner, SqlTransaction } from '../db/database.ts';
import type { cohortCounts, droppedEvents, latencyCounts, messages, mismatchFieldSets, mismatchSamples } from '../db/schema.ts';
import { NOISE_MIN_DIFFERING } from './learned-noise.ts';
import { rowsSql, upsertChunks } from './rows-sql.ts';

export type CountDelta = typeof cohortCounts.$inferInsert;
export type LatencyDelta = typeof latencyCounts.$inferInsert;
export type DroppedDelta = typeof droppedEvents.$inferInsert;
export type MessageRow = typeof messages.$inferInsert;
export type SampleRow = typeof mismatchSamples.$inferInsert;

/** Records the batch ids in one statement per 200; returns those that were new (the others are retries). */
export async function claimBatches(runner: SqlTransaction, claims: { batchId: string; instanceId: string }[], at: number): Promise<Set<string>> {
  const fresh = new Set<string>();
  for (let start = 0; start < claims.length; start += 200) {
    const chunk = claims.slice(start, start + 200);
    const { rows } = await runner.execute({
      sql: `INSERT INTO report_batches (batch_id, instance_id, received_at) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING RETURNING batch_id`,
      args: chunk.flatMap((c) => [c.batchId, c.instanceId, at]),
    });
    for (const row of rows) fresh.add(String(row.batch_id));
  }
  return fresh;
}

/** Of `batchIds`, those already claimed: read before a commit that claims the rest without asking (see ingester.ts). */
export async function seenBatches(runner: SqlRunner, batchIds: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let start = 0; start < batchIds.length; start += 200) {
    const chunk = batchIds.slice(start, start + 200);
    const { rows } = await runner.execute({ sql: `SELECT batch_id FROM report_batches WHERE batch_id IN (${chunk.map(() => '?').join(', ')})`, args: chunk });
    for (const row of rows) seen.add(String(row.batch_id));
  }
  return seen;
}

/** Claims batch ids known to be new; a claim made meanwhile by another server fails the statement (and its commit). */
export async function insertClaims(runner: SqlTransaction, claims: { batchId: string; instanceId: string }[], at: number): Promise<void> {
  if (runner.rowsAsJson === true) {
    await upsertChunks(runner, claims, insertClaimsSql, (c) => [c.batchId, c.instanceId, at]);
    return;
  }
  for (let start = 0; start < claims.length; start += 200) {
    const chunk = claims.slice(start, start + 200);
    await runner.execute({
      sql: `INSERT INTO report_batches (batch_id, instance_id, received_at) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      args: chunk.flatMap((c) => [c.batchId, c.instanceId, at]),
    });
  }
}

const insertClaimsSql = rowsSql('INSERT INTO report_batches (batch_id, instance_id, received_at)', 3, '');

const COUNTER_LIST = COUNTERS.join(', ');

/** Count rows add up: the clause for every insert into `cohort_counts` (ingest, and retention's roll-up). */
export const ADD_TO_COUNTS = `ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET ${COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

/** The columns a roll-up inserts and the sums it selects for them. */
export const COUNT_COLUMNS = `rollout_id, cohort, path, bucket, ${COUNTER_LIST}`;
export const COUNT_SUMS = COUNTERS.map((c) => `sum(${c})`).join(', ');

const addCountsSql = rowsSql(`INSERT INTO cohort_counts (${COUNT_COLUMNS})`, 4 + COUNTERS.length, ADD_TO_COUNTS);

export async function addCounts(runner: SqlTransaction, rows: CountDelta[]): Promise<void> {
  await upsertChunks(runner, rows, addCountsSql, (r) => {
    const values: InValue[] = [r.rolloutId, r.cohort, r.path, r.bucket];
    for (const c of COUNTERS) values.push(r[c] ?? 0);
    return values;
  });
}

const addLatencySql = rowsSql(
  'INSERT INTO latency_counts (rollout_id, cohort, path, role, bucket, slot, count)',
  7,
  'ON CONFLICT (rollout_id, cohort, path, role, bucket, slot) DO UPDATE SET count = count + excluded.count',
);

export async function addLatency(runner: SqlTransaction, rows: LatencyDelta[]): Promise<void> {
  await upsertChunks(runner, rows, addLatencySql, (r) => [r.rolloutId, r.cohort, r.path, r.role, r.bucket, r.slot, r.count]);
}

const addDroppedSql = rowsSql(
  'INSERT INTO dropped_events (rollout_id, cohort, path, reason, bucket, count)',
  6,
  'ON CONFLICT (rollout_id, cohort, reason, path, bucket) DO UPDATE SET count = count + excluded.count',
);

export async function addDropped(runner: SqlTransaction, rows: DroppedDelta[]): Promise<void> {
  await upsertChunks(runner, rows, addDroppedSql, (r) => [r.rolloutId, r.cohort, r.path, r.reason, r.bucket, r.count]);
}

const messageColumns = 'INSERT INTO messages (rollout_id, message_id, partner_id, cohort, path, status, received_at, settled_at, error)';
const messageValues = (r: MessageRow): InValue[] => [r.rolloutId, r.messageId, r.partnerId, r.cohort, r.path, r.status, r.receivedAt ?? null, r.settledAt ?? null, r.error ?? null];

/** Messages seen open: a row that already settled (another process was quicker) keeps its status. */
const openMessagesSql = rowsSql(messageColumns, 9, 'ON CONFLICT (rollout_id, message_id) DO UPDATE SET received_at = coalesce(received_at, excluded.received_at)');

export async function openMessages(runner: SqlTransaction, rows: MessageRow[]): Promise<void> {
  await upsertChunks(runner, rows, openMessagesSql, messageValues);
}

/**
 * Messages settled. A row that was lost, or still open and settled (by the
 * settling process's clock) more than its rollout's grace after it was
 * received (`graceMs`, the statement's last argument), becomes `late`; a
 * replayed row stays replayed. A report that merely arrives late, held up
 * while the controller waited for its reporter's watermark, is not late.
 */
const settleMessagesSql = rowsSql(
  messageColumns,
  9,
  `ON CONFLICT (rollout_id, message_id) DO UPDATE SET
     status = CASE
       WHEN status IN ('lost', 'late') THEN 'late'
       WHEN status = 'replayed' THEN 'replayed'
       WHEN status = 'open' AND excluded.settled_at > received_at + ? THEN 'late'
       ELSE excluded.status END,
     settled_at = excluded.settled_at,
     error = coalesce(excluded.error, error),
     received_at = coalesce(received_at, excluded.received_at)`,
);

export async function settleMessages(runner: SqlTransaction, rows: MessageRow[], graceMs: number): Promise<void> {
  await upsertChunks(runner, rows, settleMessagesSql, messageValues, [graceMs]);
}

/** Samples already kept for a rollout, cohort and minute. */
export async function samplesInMinute(runner: SqlRunner, rolloutId: number, cohort: string, minute: number): Promise<number> {
  const { rows } = await runner.execute({ sql: 'SELECT count(*) AS n FROM mismatch_samples WHERE rollout_id = ? AND cohort = ? AND minute = ?', args: [rolloutId, cohort, minute] });
  return Number(rows[0]?.n ?? 0);
}

const insertSamplesSql = rowsSql(
  'INSERT INTO mismatch_samples (rollout_id, cohort, minute, at, message_id, partner_id, authoritative, kind, diffs, instance_id)',
  10,
  '',
);

export async function insertSamples(runner: SqlTransaction, rows: SampleRow[]): Promise<void> {
  await upsertChunks(runner, rows, insertSamplesSql, (r) => [r.rolloutId, r.cohort, r.minute, r.at, r.messageId, r.partnerId, r.authoritative, r.kind, JSON.stringify(r.diffs), r.instanceId]);
}

/** Inserts each sample only while its rollout, cohort and minute hold fewer than `limit`: the cap decided inside the write itself. */
export async function insertSamplesCapped(runner: SqlTransaction, rows: SampleRow[], limit: number): Promise<void> {
  for (const r of rows) {
    await runner.execute({
      sql: `INSERT INTO mismatch_samples (rollout_id, cohort, minute, at, message_id, partner_id, authoritative, kind, diffs, instance_id)
            SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM mismatch_samples WHERE rollout_id = ? AND cohort = ? AND minute = ?) < ?`,
      args: [r.rolloutId, r.cohort, r.minute, r.at, r.messageId, r.partnerId, r.authoritative, r.kind, JSON.stringify(r.diffs), r.instanceId, r.rolloutId, r.cohort, r.minute, limit],
    });
  }
}

export type FieldSetRow = typeof mismatchFieldSets.$inferInsert;

const addFieldSetsSql = rowsSql(
  'INSERT INTO mismatch_field_sets (rollout_id, cohort, path, bucket, fields, count)',
  6,
  'ON CONFLICT (rollout_id, cohort, path, bucket, fields) DO UPDATE SET count = count + excluded.count',
);

export async function addFieldSets(runner: SqlTransaction, rows: FieldSetRow[]): Promise<void> {
  await upsertChunks(runner, rows, addFieldSetsSql, (r) => [r.rolloutId, r.cohort, r.path, r.bucket, r.fields, r.count]);
}

/** What a group of batches taught about one rollout's noise: double runs, and in how many each field differed. */
export interface NoiseDelta {
  rolloutId: number;
  /** Null when only older SDKs reported (they send fields, not runs). */
  runs: number | null;
  differing: Map<string, number>;
}

const addNoiseSql = rowsSql(
  'INSERT INTO learned_noise (rollout_id, path, first_seen_at, differing)',
  4,
  'ON CONFLICT (rollout_id, path) DO UPDATE SET differing = differing + excluded.differing',
);

/**
 * Adds double runs and differing fields, then stamps the fields of this rollout that have
 * now differed in two double runs: from then on they are judged as noise (server/health/noise.ts).
 */
export async function addNoise(runner: SqlTransaction, deltas: NoiseDelta[], now: number): Promise<void> {
  for (const d of deltas) {
    if (d.runs !== null) {
      await runner.execute({
        sql: 'INSERT INTO noise_runs (rollout_id, runs, started_at) VALUES (?, ?, ?) ON CONFLICT (rollout_id) DO UPDATE SET runs = runs + excluded.runs',
        args: [d.rolloutId, d.runs, now],
      });
    }
    await upsertChunks(runner, [...d.differing], addNoiseSql, ([path, n]) => [d.rolloutId, path, now, n]);
    if (d.differing.size === 0) continue;
    await runner.execute({
      sql: `UPDATE learned_noise SET learned_at = ?, learned_from = (SELECT runs FROM noise_runs WHERE rollout_id = ?)
            WHERE rollout_id = ? AND learned_at IS NULL AND differing >= ${NOISE_MIN_DIFFERING}`,
      args: [now, d.rolloutId, d.rolloutId],
    });
  }
}
