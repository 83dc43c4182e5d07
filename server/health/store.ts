/**
 * Health's reads: per-cohort sums of the counts, the ledger by status, open
 * messages, latency histograms, replay progress, mismatch samples and counts
 * over time (noise is read in noise-store.ts). Window sums and ledger counts
 * read the rollups (rollups.ts); every other query is an index range.
 */
import { and, count, desc, eq, gt, gte, inArray, lt, sql } from 'drizzle-orm';
import { COUNTERS, type Counts, type DropReason } from '@rollcall/protocol';
import type { Executor } from '../db/database.ts';
import { among } from '../db/json-args.ts';
import { cohortCounts, droppedEvents, latencyCounts, ledgerTotals, messages, mismatchSamples } from '../db/schema.ts';
import { ledgerCountsMany, windowSumsMany, zeroSums, type CountSums } from './rollups.ts';

export { zeroSums, type CountSums };

export type SampleView = typeof mismatchSamples.$inferSelect;



/** Sums of one cohort's counts per path since `from` (ms); `dueBefore` (ms) splits off the due messages. */
export async function cohortSums(ex: Executor, rolloutId: number, cohort: string, from: number, dueBefore: number): Promise<Map<string, CountSums>> {
  const paths = ['old', 'new', 'shadow'];
  const sums = await windowSumsMany(ex, paths.map((path) => ({ rolloutId, cohort, path, since: from, dueBefore })));
  return new Map(paths.flatMap((path, i) => (sums[i] === undefined ? [] : [[path, sums[i]!] as const])));
}

/** Cohorts with any counts since `from`: the pseudo-cohorts that have traffic. */
export async function cohortsWithTraffic(ex: Executor, rolloutId: number, from: number): Promise<string[]> {
  const rows = await ex
    .selectDistinct({ cohort: cohortCounts.cohort })
    .from(cohortCounts)
    .where(and(eq(cohortCounts.rolloutId, rolloutId), inArray(cohortCounts.cohort, ['baseline', 'shadow', 'pinned', 'completed']), gte(cohortCounts.bucket, Math.floor(from / 1000))));
  return rows.map((r) => r.cohort);
}

/** Events SDKs dropped in one rollout since `from` (ms), by cohort, path and reason. */
export async function droppedByReason(ex: Executor, rolloutId: number, from: number): Promise<{ cohort: string; path: string; reason: DropReason; n: number }[]> {
  const rows = await ex
    .select({ cohort: droppedEvents.cohort, path: droppedEvents.path, reason: droppedEvents.reason, n: sql<number>`sum(${droppedEvents.count})` })
    .from(droppedEvents)
    // Kept by minute: the minute the window starts in counts whole.
    .where(and(eq(droppedEvents.rolloutId, rolloutId), gte(droppedEvents.bucket, Math.floor(from / 60_000) * 60)))
    .groupBy(droppedEvents.cohort, droppedEvents.path, droppedEvents.reason);
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/**
 * Ledger rows of one cohort's path received from `from` up to `dueBefore`, by status (lost, late, replayed):
 * only among the messages counted as due, so that lost never counts a message `due` does not.
 */
export async function ledgerCounts(ex: Executor, rolloutId: number, cohort: string, path: string, from: number, dueBefore: number): Promise<Record<string, number>> {
  return (await ledgerCountsMany(ex, [{ rolloutId, cohort, path, since: from, dueBefore }]))[0]!;
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

/** Lost messages not yet replayed, per rollout (the triggers' totals: a few rows each, however many are lost). */
export async function lostPendingMany(ex: Executor, rolloutIds: number[]): Promise<Map<number, number>> {
  if (rolloutIds.length === 0) return new Map();
  const rows = await ex
    .select({ rolloutId: ledgerTotals.rolloutId, n: sql<number>`sum(${ledgerTotals.n})` })
    .from(ledgerTotals)
    .where(and(sql`${ledgerTotals.rolloutId} IN ${among(rolloutIds)}`, eq(ledgerTotals.status, 'lost')))
    .groupBy(ledgerTotals.rolloutId);
  return new Map(rows.map((r) => [r.rolloutId, Number(r.n)]));
}

/** Replay progress over the whole ledger of a rollout: totals from the triggers, and the leased lost rows from their index. */
export async function replayProgress(ex: Executor, rolloutId: number, now: number) {
  const [totals, leased] = await Promise.all([
    ex.select({ status: ledgerTotals.status, n: sql<number>`sum(${ledgerTotals.n})` }).from(ledgerTotals).where(eq(ledgerTotals.rolloutId, rolloutId)).groupBy(ledgerTotals.status),
    ex.select({ n: sql<number>`count(*)` }).from(messages).where(and(eq(messages.rolloutId, rolloutId), eq(messages.status, 'lost'), gt(messages.leaseUntil, now))),
  ]);
  const total = (status: string) => Number(totals.find((t) => t.status === status)?.n ?? 0);
  return { lost: total('lost'), leased: Number(leased[0]?.n ?? 0), replayed: total('replayed'), late: total('late') };
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

/** Latency histograms of many rollouts at once, each from its own minute `since` (unix s): one read for a controller pass. */
export async function latencySumsMany(ex: Executor, probes: { rolloutId: number; since: number }[]): Promise<Map<number, LatencyRow[]>> {
  const out = new Map<number, LatencyRow[]>();
  if (probes.length === 0) return out;
  // Minute buckets from `since` (unix s), the one holding the window's start: the current minute's timings are what a young step has.
  const cells = JSON.stringify(probes.map((p) => [p.rolloutId, p.since]));
  const rows = await ex.all<LatencyRow & { rolloutId: number }>(sql`
    WITH p AS MATERIALIZED (SELECT value ->> '$[0]' AS rid, value ->> '$[1]' AS since FROM json_each(${cells}))
    SELECT l.rollout_id AS rolloutId, l.cohort AS cohort, l.path AS path, l.role AS role, l.slot AS slot, sum(l.count) AS n
    FROM p JOIN latency_counts AS l ON l.rollout_id = p.rid AND l.bucket >= p.since
    GROUP BY l.rollout_id, l.cohort, l.path, l.role, l.slot`);
  for (const { rolloutId, ...row } of rows) {
    const id = Number(rolloutId);
    const list = out.get(id) ?? [];
    list.push({ ...row, slot: Number(row.slot), n: Number(row.n) });
    out.set(id, list);
  }
  return out;
}

/** One latency histogram cell summed over a window: how many timings of a cohort, path and role fell in a slot. */
export type LatencyRow = { cohort: string; path: string; role: string; slot: number; n: number };

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

/** Charts cover at most this many steps. */
export const CHART_STEPS = 60;

export interface CohortSeries {
  cohort: string;
  /** Per step: [step start ms, received, processed, failed, compared, mismatched]. */
  steps: [number, number, number, number, number, number][];
}

export async function countsOverTime(db: Executor, rolloutId: number, cohorts: string[], from: number, stepSeconds: number): Promise<CohortSeries[]> {
  const fromBucket = Math.floor(from / 1000);
  const rows = await db
    .select({
      cohort: cohortCounts.cohort,
      t: sql<number>`${cohortCounts.bucket} - ${cohortCounts.bucket} % ${stepSeconds}`,
      received: sql<number>`sum(${cohortCounts.received})`,
      processed: sql<number>`sum(${cohortCounts.processed})`,
      failed: sql<number>`sum(${cohortCounts.failed})`,
      compared: sql<number>`sum(${cohortCounts.compared})`,
      mismatched: sql<number>`sum(${cohortCounts.mismatched})`,
    })
    .from(cohortCounts)
    .where(and(eq(cohortCounts.rolloutId, rolloutId), inArray(cohortCounts.cohort, cohorts), inArray(cohortCounts.path, ['old', 'new', 'shadow']), sql`${cohortCounts.bucket} >= ${fromBucket}`))
    .groupBy(cohortCounts.cohort, sql`2`);
  const byCohort = new Map<string, Map<number, CohortSeries['steps'][number]>>();
  for (const r of rows) {
    const steps = byCohort.get(r.cohort) ?? new Map();
    steps.set(Number(r.t) * 1000, [Number(r.t) * 1000, Number(r.received), Number(r.processed), Number(r.failed), Number(r.compared), Number(r.mismatched)]);
    byCohort.set(r.cohort, steps);
  }
  const first = fromBucket - (fromBucket % stepSeconds);
  return [...byCohort].map(([cohort, steps]) => ({
    cohort,
    steps: Array.from({ length: CHART_STEPS + 1 }, (_, i) => {
      const t = (first + i * stepSeconds) * 1000;
      return steps.get(t) ?? [t, 0, 0, 0, 0, 0];
    }),
  }));
}

