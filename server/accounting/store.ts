/**
 * The only code that writes the accounting tables. Counts and histograms
 * are added to (upserts), ledger rows move between statuses by rules that
 * do not depend on the order reports arrive in, and sample inserts respect
 * the per-minute limit.
 */
import { and, count, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { cohortCounts, latencyCounts, learnedNoise, messages, mismatchSamples, reportBatches, rollouts } from '../db/schema.ts';

export type CountDelta = typeof cohortCounts.$inferInsert;
export type LatencyDelta = typeof latencyCounts.$inferInsert;
export type MessageRow = typeof messages.$inferInsert;
export type SampleRow = typeof mismatchSamples.$inferInsert;
export type SampleView = typeof mismatchSamples.$inferSelect;

/** SQLite binds at most 32766 parameters per statement; stay well below. */
const CHUNK = 500;

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

export async function rolloutsByKey(ex: Executor, keys: string[]) {
  if (keys.length === 0) return new Map<string, { id: number; graceSeconds: number }>();
  const rows = await ex.select({ id: rollouts.id, key: rollouts.key, guards: rollouts.guards }).from(rollouts).where(inArray(rollouts.key, keys));
  return new Map(rows.map((r) => [r.key, { id: r.id, graceSeconds: r.guards.graceSeconds }]));
}

/** Records a batch id; false when it was already there (a retry). */
export async function claimBatch(ex: Executor, batchId: string, instanceId: string, at: number): Promise<boolean> {
  const result = await ex.insert(reportBatches).values({ batchId, instanceId, receivedAt: at }).onConflictDoNothing();
  return result.rowsAffected === 1;
}

export async function addCounts(ex: Executor, rows: CountDelta[]): Promise<void> {
  const add = (column: string) => sql.raw(`"${column}" + excluded."${column}"`);
  for (const chunk of chunks(rows)) {
    await ex
      .insert(cohortCounts)
      .values(chunk)
      .onConflictDoUpdate({
        target: [cohortCounts.rolloutId, cohortCounts.bucket, cohortCounts.cohort, cohortCounts.path],
        set: {
          received: add('received'),
          processed: add('processed'),
          failed: add('failed'),
          compared: add('compared'),
          mismatched: add('mismatched'),
          skipped: add('skipped'),
          dropped: add('dropped'),
        },
      });
  }
}

export async function addLatency(ex: Executor, rows: LatencyDelta[]): Promise<void> {
  for (const chunk of chunks(rows)) {
    await ex
      .insert(latencyCounts)
      .values(chunk)
      .onConflictDoUpdate({
        target: [latencyCounts.rolloutId, latencyCounts.bucket, latencyCounts.cohort, latencyCounts.path, latencyCounts.role, latencyCounts.slot],
        set: { count: sql.raw('"count" + excluded."count"') },
      });
  }
}

/** Messages seen open: a row that already settled (another process was quicker) keeps its status. */
export async function openMessages(ex: Executor, rows: MessageRow[]): Promise<void> {
  for (const chunk of chunks(rows)) {
    await ex
      .insert(messages)
      .values(chunk)
      .onConflictDoUpdate({
        target: [messages.rolloutId, messages.messageId],
        set: { receivedAt: sql.raw('coalesce("received_at", excluded."received_at")') },
      });
  }
}

/**
 * Messages settled. A row that was lost, or still open past its rollout's
 * grace (`dueBefore`), becomes `late`; a replayed row stays replayed.
 */
export async function settleMessages(ex: Executor, rows: MessageRow[], dueBefore: number): Promise<void> {
  for (const chunk of chunks(rows)) {
    await ex
      .insert(messages)
      .values(chunk)
      .onConflictDoUpdate({
        target: [messages.rolloutId, messages.messageId],
        set: {
          status: sql`CASE
            WHEN "status" IN ('lost', 'late') THEN 'late'
            WHEN "status" = 'replayed' THEN 'replayed'
            WHEN "status" = 'open' AND "received_at" < ${dueBefore} THEN 'late'
            ELSE excluded."status" END`,
          settledAt: sql.raw('excluded."settled_at"'),
          error: sql.raw('coalesce(excluded."error", "error")'),
          receivedAt: sql.raw('coalesce("received_at", excluded."received_at")'),
        },
      });
  }
}

export async function countSamples(ex: Executor, rolloutId: number, cohort: string, minute: number): Promise<number> {
  const [row] = await ex
    .select({ n: count() })
    .from(mismatchSamples)
    .where(and(eq(mismatchSamples.rolloutId, rolloutId), eq(mismatchSamples.cohort, cohort), eq(mismatchSamples.minute, minute)));
  return row?.n ?? 0;
}

export async function insertSamples(ex: Executor, rows: SampleRow[]): Promise<void> {
  for (const chunk of chunks(rows)) await ex.insert(mismatchSamples).values(chunk);
}

export async function addNoise(ex: Executor, rows: (typeof learnedNoise.$inferInsert)[]): Promise<void> {
  for (const chunk of chunks(rows)) await ex.insert(learnedNoise).values(chunk).onConflictDoNothing();
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
