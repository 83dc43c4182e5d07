/**
 * The only code that writes the accounting tables. Counts and histograms
 * are added to (upserts), ledger rows move between statuses by rules that
 * do not depend on the order reports arrive in, and sample inserts respect
 * the per-minute limit.
 */
import { and, count, desc, eq, gte, inArray, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { InValue } from '@libsql/client';
import { COUNTERS, type Counts } from '../../sdk/wire.ts';
import type { Executor, SqlRunner } from '../db/database.ts';
import { cohortCounts, latencyCounts, learnedNoise, messages, mismatchSamples, rollouts } from '../db/schema.ts';

export type CountDelta = typeof cohortCounts.$inferInsert;
export type LatencyDelta = typeof latencyCounts.$inferInsert;
export type MessageRow = typeof messages.$inferInsert;
export type SampleRow = typeof mismatchSamples.$inferInsert;
export type SampleView = typeof mismatchSamples.$inferSelect;

/** SQLite binds at most 32766 parameters per statement; stay well below. */
const CHUNK = 128;

/**
 * Rows in chunks of 128, the rest in powers of two (64, 32, … 1): each
 * multi-row statement then has at most eight sizes, so the ingest
 * connection's prepared statements stay cached instead of being made anew
 * for every row count (and left to the garbage collector).
 */
function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (; i + CHUNK <= rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  for (let size = CHUNK / 2; size >= 1; size /= 2) {
    if (rows.length - i >= size) {
      out.push(rows.slice(i, i + size));
      i += size;
    }
  }
  return out;
}

export async function rolloutsByKey(ex: Executor, keys: string[]) {
  if (keys.length === 0) return new Map<string, { id: number; graceSeconds: number }>();
  const rows = await ex.select({ id: rollouts.id, key: rollouts.key, guards: rollouts.guards }).from(rollouts).where(inArray(rollouts.key, keys));
  return new Map(rows.map((r) => [r.key, { id: r.id, graceSeconds: r.guards.graceSeconds }]));
}

/**
 * The statements ingestion runs for every batch are written as plain SQL:
 * building them with the query builder cost more CPU than running them. Each
 * is a multi-row upsert; the SQL text for n rows is built once and kept.
 */
function valuesSql(head: string, columns: number, tail: string) {
  const cache = new Map<number, string>();
  const row = `(${Array(columns).fill('?').join(', ')})`;
  return (rows: number) => {
    let text = cache.get(rows);
    if (text === undefined) cache.set(rows, (text = `${head} VALUES ${Array(rows).fill(row).join(', ')} ${tail}`));
    return text;
  };
}

async function upsertChunks<T>(sql: SqlRunner, rows: T[], statement: (n: number) => string, values: (row: T) => InValue[], trailing: InValue[] = []): Promise<void> {
  for (const chunk of chunks(rows)) {
    await sql.execute({ sql: statement(chunk.length), args: [...chunk.flatMap(values), ...trailing] });
  }
}

/** Records a batch id; false when it was already there (a retry). */
export async function claimBatch(sql: SqlRunner, batchId: string, instanceId: string, at: number): Promise<boolean> {
  const result = await sql.execute({
    sql: 'INSERT INTO report_batches (batch_id, instance_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    args: [batchId, instanceId, at],
  });
  return result.rowsAffected === 1;
}

const COUNTER_LIST = COUNTERS.join(', ');

/** Count rows add up: the clause for every insert into `cohort_counts` (ingest, and retention's roll-up). */
export const ADD_TO_COUNTS = `ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET ${COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

/** The columns a roll-up inserts and the sums it selects for them. */
export const COUNT_COLUMNS = `rollout_id, cohort, path, bucket, ${COUNTER_LIST}`;
export const COUNT_SUMS = COUNTERS.map((c) => `sum(${c})`).join(', ');

const addCountsSql = valuesSql(`INSERT INTO cohort_counts (${COUNT_COLUMNS})`, 4 + COUNTERS.length, ADD_TO_COUNTS);

export async function addCounts(sql: SqlRunner, rows: CountDelta[]): Promise<void> {
  await upsertChunks(sql, rows, addCountsSql, (r) => {
    const values: InValue[] = [r.rolloutId, r.cohort, r.path, r.bucket];
    for (const c of COUNTERS) values.push(r[c] ?? 0);
    return values;
  });
}

const addLatencySql = valuesSql(
  'INSERT INTO latency_counts (rollout_id, cohort, path, role, bucket, slot, count)',
  7,
  'ON CONFLICT (rollout_id, cohort, path, role, bucket, slot) DO UPDATE SET count = count + excluded.count',
);

export async function addLatency(sql: SqlRunner, rows: LatencyDelta[]): Promise<void> {
  await upsertChunks(sql, rows, addLatencySql, (r) => [r.rolloutId, r.cohort, r.path, r.role, r.bucket, r.slot, r.count]);
}

const messageColumns = 'INSERT INTO messages (rollout_id, message_id, partner_id, cohort, path, status, received_at, settled_at, error)';
const messageValues = (r: MessageRow): InValue[] => [r.rolloutId, r.messageId, r.partnerId, r.cohort, r.path, r.status, r.receivedAt ?? null, r.settledAt ?? null, r.error ?? null];

/** Messages seen open: a row that already settled (another process was quicker) keeps its status. */
const openMessagesSql = valuesSql(messageColumns, 9, 'ON CONFLICT (rollout_id, message_id) DO UPDATE SET received_at = coalesce(received_at, excluded.received_at)');

export async function openMessages(sql: SqlRunner, rows: MessageRow[]): Promise<void> {
  await upsertChunks(sql, rows, openMessagesSql, messageValues);
}

/**
 * Messages settled. A row that was lost, or still open past its rollout's
 * grace (received before `dueBefore`, the statement's last argument), becomes
 * `late`; a replayed row stays replayed.
 */
const settleMessagesSql = valuesSql(
  messageColumns,
  9,
  `ON CONFLICT (rollout_id, message_id) DO UPDATE SET
     status = CASE
       WHEN status IN ('lost', 'late') THEN 'late'
       WHEN status = 'replayed' THEN 'replayed'
       WHEN status = 'open' AND received_at < ? THEN 'late'
       ELSE excluded.status END,
     settled_at = excluded.settled_at,
     error = coalesce(excluded.error, error),
     received_at = coalesce(received_at, excluded.received_at)`,
);

export async function settleMessages(sql: SqlRunner, rows: MessageRow[], dueBefore: number): Promise<void> {
  await upsertChunks(sql, rows, settleMessagesSql, messageValues, [dueBefore]);
}

/** Rollout ids and graces by key, in plain SQL (ingestion's transaction). */
export async function knownRollouts(sql: SqlRunner, keys: string[]): Promise<Map<string, { id: number; graceSeconds: number }>> {
  if (keys.length === 0) return new Map();
  const { rows } = await sql.execute({ sql: `SELECT id, key, guards FROM rollouts WHERE key IN (${keys.map(() => '?').join(', ')})`, args: keys });
  return new Map(rows.map((r) => [String(r.key), { id: Number(r.id), graceSeconds: (JSON.parse(String(r.guards)) as { graceSeconds: number }).graceSeconds }]));
}

/** Samples already kept for a rollout, cohort and minute. */
export async function samplesInMinute(sql: SqlRunner, rolloutId: number, cohort: string, minute: number): Promise<number> {
  const { rows } = await sql.execute({ sql: 'SELECT count(*) AS n FROM mismatch_samples WHERE rollout_id = ? AND cohort = ? AND minute = ?', args: [rolloutId, cohort, minute] });
  return Number(rows[0]?.n ?? 0);
}

const insertSamplesSql = valuesSql(
  'INSERT INTO mismatch_samples (rollout_id, cohort, minute, at, message_id, partner_id, authoritative, kind, diffs, instance_id)',
  10,
  '',
);

export async function insertSamples(sql: SqlRunner, rows: SampleRow[]): Promise<void> {
  await upsertChunks(sql, rows, insertSamplesSql, (r) => [r.rolloutId, r.cohort, r.minute, r.at, r.messageId, r.partnerId, r.authoritative, r.kind, JSON.stringify(r.diffs), r.instanceId]);
}

const addNoiseSql = valuesSql('INSERT INTO learned_noise (rollout_id, path, first_seen_at)', 3, 'ON CONFLICT DO NOTHING');

export async function addNoise(sql: SqlRunner, rows: (typeof learnedNoise.$inferInsert)[]): Promise<void> {
  await upsertChunks(sql, rows, addNoiseSql, (r) => [r.rolloutId, r.path, r.firstSeenAt]);
}

/** Mismatch samples of one rollout, newest first. */
export async function listSamples(
  ex: Executor,
  query: { rolloutId: number; cohort?: string | undefined; before?: number | undefined; limit: number },
): Promise<SampleView[]> {
  return ex
    .select()
    .from(mismatchSamples)
    .where(
      and(
        eq(mismatchSamples.rolloutId, query.rolloutId),
        query.cohort === undefined ? undefined : eq(mismatchSamples.cohort, query.cohort),
        query.before === undefined ? undefined : lt(mismatchSamples.id, query.before),
      ),
    )
    .orderBy(desc(mismatchSamples.id))
    .limit(query.limit);
}

export async function listNoise(ex: Executor, rolloutId: number): Promise<string[]> {
  const rows = await ex.select({ path: learnedNoise.path }).from(learnedNoise).where(eq(learnedNoise.rolloutId, rolloutId)).orderBy(learnedNoise.path);
  return rows.map((r) => r.path);
}

export interface CountSums extends Counts {
  /** Received in buckets that are past the grace: messages that are due. */
  due: number;
}

export function zeroSums(): CountSums {
  const sums = { due: 0 } as CountSums;
  for (const c of COUNTERS) sums[c] = 0;
  return sums;
}

/** Sums of one cohort's counts per path since `from` (ms); `dueBefore` (ms) splits off the due messages. */
export async function cohortSums(ex: Executor, rolloutId: number, cohort: string, from: number, dueBefore: number): Promise<Map<string, CountSums>> {
  const sums = Object.fromEntries(COUNTERS.map((c) => [c, sql<number>`coalesce(sum(${cohortCounts[c]}), 0)`])) as Record<keyof Counts, SQL<number>>;
  const rows = await ex
    .select({
      path: cohortCounts.path,
      due: sql<number>`coalesce(sum(CASE WHEN ${cohortCounts.bucket} * 1000 <= ${dueBefore} THEN ${cohortCounts.received} ELSE 0 END), 0)`,
      ...sums,
    })
    .from(cohortCounts)
    .where(
      and(
        eq(cohortCounts.rolloutId, rolloutId),
        eq(cohortCounts.cohort, cohort),
        inArray(cohortCounts.path, ['old', 'new', 'shadow']),
        gte(cohortCounts.bucket, Math.floor(from / 1000)),
      ),
    )
    .groupBy(cohortCounts.path);
  return new Map(rows.map(({ path, ...sums }) => [path, sums]));
}

/** Cohorts with any counts since `from`: the pseudo-cohorts that have traffic. */
export async function cohortsWithTraffic(ex: Executor, rolloutId: number, from: number): Promise<string[]> {
  const rows = await ex
    .selectDistinct({ cohort: cohortCounts.cohort })
    .from(cohortCounts)
    .where(and(eq(cohortCounts.rolloutId, rolloutId), inArray(cohortCounts.cohort, ['baseline', 'shadow', 'pinned', 'completed']), gte(cohortCounts.bucket, Math.floor(from / 1000))));
  return rows.map((r) => r.cohort);
}

/** Ledger rows of one cohort received since `from`, by status (open, lost, late, replayed). */
export async function ledgerCounts(ex: Executor, rolloutId: number, cohort: string, from: number): Promise<Record<string, number>> {
  const rows = await ex
    .select({ status: messages.status, n: count() })
    .from(messages)
    .where(
      and(
        eq(messages.rolloutId, rolloutId),
        inArray(messages.status, ['lost', 'late', 'replayed']),
        gte(messages.receivedAt, from),
        eq(messages.cohort, cohort),
      ),
    )
    .groupBy(messages.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Open rows per cohort (messages the server knows were received and not yet settled). */
export async function openCounts(ex: Executor, rolloutId: number): Promise<Map<string, number>> {
  const rows = await ex
    .select({ cohort: messages.cohort, n: count() })
    .from(messages)
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.status, 'open')))
    .groupBy(messages.cohort);
  return new Map(rows.map((r) => [r.cohort, r.n]));
}

/** Replay progress over the whole ledger of a rollout. */
export async function replayProgress(ex: Executor, rolloutId: number, now: number) {
  const [row] = await ex
    .select({
      lost: sql<number>`coalesce(sum(CASE WHEN ${messages.status} = 'lost' THEN 1 ELSE 0 END), 0)`,
      leased: sql<number>`coalesce(sum(CASE WHEN ${messages.status} = 'lost' AND ${messages.leaseUntil} > ${now} THEN 1 ELSE 0 END), 0)`,
      replayed: sql<number>`coalesce(sum(CASE WHEN ${messages.status} = 'replayed' THEN 1 ELSE 0 END), 0)`,
      late: sql<number>`coalesce(sum(CASE WHEN ${messages.status} = 'late' THEN 1 ELSE 0 END), 0)`,
    })
    .from(messages)
    .where(and(eq(messages.rolloutId, rolloutId), inArray(messages.status, ['lost', 'replayed', 'late'])));
  return { lost: row?.lost ?? 0, leased: row?.leased ?? 0, replayed: row?.replayed ?? 0, late: row?.late ?? 0 };
}

/** Latency histograms since `from` (ms), per cohort, path and role: slot → count. */
export async function latencySums(ex: Executor, rolloutId: number, from: number) {
  return ex
    .select({
      cohort: latencyCounts.cohort,
      path: latencyCounts.path,
      role: latencyCounts.role,
      slot: latencyCounts.slot,
      n: sql<number>`sum(${latencyCounts.count})`,
    })
    .from(latencyCounts)
    .where(and(eq(latencyCounts.rolloutId, rolloutId), gte(latencyCounts.bucket, Math.floor(from / 60_000) * 60)))
    .groupBy(latencyCounts.cohort, latencyCounts.path, latencyCounts.role, latencyCounts.slot);
}

/**
 * Marks open messages received at or before `dueBefore` as lost, oldest
 * first, at most `limit` (the partial index on open rows keeps this cheap).
 * Returns which it marked.
 */
export async function markLost(ex: Executor, rolloutId: number, dueBefore: number, limit: number): Promise<{ messageId: string; cohort: string }[]> {
  return ex
    .update(messages)
    .set({ status: 'lost' })
    .where(
      sql`rowid IN (SELECT rowid FROM ${messages} WHERE ${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'open' AND ${messages.receivedAt} <= ${dueBefore} ORDER BY ${messages.receivedAt} LIMIT ${limit})`,
    )
    .returning({ messageId: messages.messageId, cohort: messages.cohort });
}

/** True when some open message of the rollout was received at or before `dueBefore` (a read, before any write). */
export async function hasDueOpen(ex: Executor, rolloutId: number, dueBefore: number): Promise<boolean> {
  const rows = await ex
    .select({ one: sql<number>`1` })
    .from(messages)
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.status, 'open'), lte(messages.receivedAt, dueBefore)))
    .limit(1);
  return rows.length > 0;
}

export type LedgerStatus = 'lost' | 'replayed' | 'late';

/** Ledger rows in the given statuses, oldest first, after the (receivedAt, messageId) cursor. */
export async function listLedger(
  ex: Executor,
  query: { rolloutId: number; statuses: LedgerStatus[]; cohort?: string | undefined; after?: { receivedAt: number; messageId: string } | undefined; limit: number },
) {
  return ex
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.rolloutId, query.rolloutId),
        inArray(messages.status, query.statuses),
        query.cohort === undefined ? undefined : eq(messages.cohort, query.cohort),
        query.after === undefined
          ? undefined
          : sql`(${messages.receivedAt} > ${query.after.receivedAt} OR (${messages.receivedAt} = ${query.after.receivedAt} AND ${messages.messageId} > ${query.after.messageId}))`,
      ),
    )
    .orderBy(messages.receivedAt, messages.messageId)
    .limit(query.limit);
}

/**
 * Leases up to `limit` lost messages of one rollout whose lease is free or
 * expired to `owner` until `until`, oldest first. Two instances never hold one
 * message at once; an expired lease is claimed again.
 */
export async function claimLost(ex: Executor, rolloutId: number, owner: string, now: number, until: number, limit: number) {
  return ex
    .update(messages)
    .set({ leaseOwner: owner, leaseUntil: until, replayAttempts: sql`${messages.replayAttempts} + 1` })
    .where(
      sql`rowid IN (SELECT rowid FROM ${messages} WHERE ${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'lost'
          AND (${messages.leaseUntil} IS NULL OR ${messages.leaseUntil} <= ${now}) ORDER BY ${messages.receivedAt} LIMIT ${limit})`,
    )
    .returning({ messageId: messages.messageId, partnerId: messages.partnerId, cohort: messages.cohort, receivedAt: messages.receivedAt, attempt: messages.replayAttempts });
}

/** The holder of the lease says the message was replayed: it leaves the lost list. */
export async function markReplayed(ex: Executor, rolloutId: number, messageId: string, owner: string, now: number): Promise<boolean> {
  const result = await ex
    .update(messages)
    .set({ status: 'replayed', settledAt: now, leaseOwner: null, leaseUntil: null })
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.messageId, messageId), eq(messages.status, 'lost'), eq(messages.leaseOwner, owner)));
  return result.rowsAffected === 1;
}

/** The holder of the lease failed to replay: the message stays lost, free again at `retryAt`. */
export async function releaseLease(ex: Executor, rolloutId: number, messageId: string, owner: string, retryAt: number, error: string | null): Promise<boolean> {
  const result = await ex
    .update(messages)
    .set({ leaseUntil: retryAt, error })
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.messageId, messageId), eq(messages.status, 'lost'), eq(messages.leaseOwner, owner)));
  return result.rowsAffected === 1;
}
