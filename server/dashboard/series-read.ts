/**
 * The rollout page's figures over time, read the way health reads its window
 * (measure.ts, withdraw.ts): each cohort's counts on the path it is measured
 * on, from its own `since`; lost (and replayed) ledger rows of that path received by the
 * due line; and the mismatches whose every differing field is quiet (noise
 * or ignored), which health withdraws. Summed, the buckets are health's
 * figures: rates.ts turns them into the rates the table shows.
 * Each read is an index range on (rollout, cohort, path, bucket) or on the
 * ledger's status index, grouped into at most CHART_STEPS buckets.
 */
import { and, eq, gte, inArray, lte, sql, type SQLWrapper } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { cohortCounts, messages, mismatchFieldSets } from '../db/schema.ts';
import { withdrawable } from '../health/noise.ts';

/** A chart covers at most this many buckets. */
export const CHART_STEPS = 60;

/** One bucket of one cohort; `t` is its start (ms, a whole second). Bucket -1 holds what came before the chart's start (its figures count, its bars are not drawn). */
export interface Bucket {
  t: number;
  received: number;
  /** Received by the due line: the messages the loss rate is out of. */
  due: number;
  processed: number;
  failed: number;
  lost: number;
  compared: number;
  mismatched: number;
  /** Mismatches differing only in quiet fields (withdrawn by health). */
  withdrawable: number;
}

export interface SeriesPlan {
  rolloutId: number;
  /** The chart's start (ms) and the width of a bucket (s). */
  from: number;
  stepSeconds: number;
  buckets: number;
  dueBefore: number;
  quiet: ReadonlySet<string>;
  cohorts: { name: string; path: string; since: number }[];
}

/** How a chart span is cut: at most CHART_STEPS buckets of whole seconds. */
export function chartSteps(from: number, to: number): { stepSeconds: number; buckets: number } {
  const stepSeconds = Math.max(1, Math.ceil((to - from) / 1000 / CHART_STEPS));
  return { stepSeconds, buckets: Math.floor((to - from) / 1000 / stepSeconds) + 1 };
}

const empty = (t: number): Bucket => ({ t, received: 0, due: 0, processed: 0, failed: 0, lost: 0, compared: 0, mismatched: 0, withdrawable: 0 });

/** Per cohort: bucket -1 (before the chart), then `plan.buckets` buckets from `plan.from`. */
export async function readBuckets(db: Executor, plan: SeriesPlan): Promise<Map<string, Bucket[]>> {
  const origin = Math.floor(plan.from / 1000);
  const step = plan.stepSeconds;
  const at = (second: SQLWrapper) => sql<number>`CASE WHEN ${second} < ${origin} THEN -1 ELSE (${second} - ${origin}) / ${step} END`;
  const out = new Map<string, Bucket[]>();
  await Promise.all(
    plan.cohorts.map(async (cohort) => {
      const since = Math.floor(cohort.since / 1000);
      const [counts, lost, sets] = await Promise.all([
        db
          .select({
            i: at(cohortCounts.bucket),
            received: sql<number>`sum(${cohortCounts.received})`,
            due: sql<number>`sum(CASE WHEN ${cohortCounts.bucket} * 1000 <= ${plan.dueBefore} THEN ${cohortCounts.received} ELSE 0 END)`,
            processed: sql<number>`sum(${cohortCounts.processed})`,
            failed: sql<number>`sum(${cohortCounts.failed})`,
            compared: sql<number>`sum(${cohortCounts.compared})`,
            mismatched: sql<number>`sum(${cohortCounts.mismatched})`,
          })
          .from(cohortCounts)
          .where(and(eq(cohortCounts.rolloutId, plan.rolloutId), eq(cohortCounts.cohort, cohort.name), eq(cohortCounts.path, cohort.path as 'new'), gte(cohortCounts.bucket, since)))
          .groupBy(sql`1`),
        db
          .select({ i: at(sql`${messages.receivedAt} / 1000`), n: sql<number>`count(*)` })
          .from(messages)
          .where(
            and(
              eq(messages.rolloutId, plan.rolloutId),
              inArray(messages.status, ['lost', 'replayed']),
              gte(messages.receivedAt, cohort.since),
              lte(messages.receivedAt, plan.dueBefore),
              eq(messages.cohort, cohort.name),
              eq(messages.path, cohort.path as 'new'),
            ),
          )
          .groupBy(sql`1`),
        plan.quiet.size === 0
          ? Promise.resolve([])
          : db
              .select({ i: at(mismatchFieldSets.bucket), fields: mismatchFieldSets.fields, n: sql<number>`sum(${mismatchFieldSets.count})` })
              .from(mismatchFieldSets)
              .where(
                and(
                  eq(mismatchFieldSets.rolloutId, plan.rolloutId),
                  eq(mismatchFieldSets.cohort, cohort.name),
                  inArray(mismatchFieldSets.path, ['old', 'new', 'shadow']),
                  gte(mismatchFieldSets.bucket, since),
                ),
              )
              .groupBy(sql`1`, mismatchFieldSets.fields),
      ]);
      // Buckets start on the whole seconds they were summed by, not at the span's start in ms: a bucket
      // labelled later than its first second would leave that second's due messages off a due line inside it.
      const start = origin * 1000;
      const buckets = [empty(start - step * 1000), ...Array.from({ length: plan.buckets }, (_, i) => empty(start + i * step * 1000))];
      const bucketOf = (i: number) => buckets[Math.min(Number(i), plan.buckets - 1) + 1]!;
      for (const row of counts) {
        const b = bucketOf(row.i);
        for (const k of ['received', 'due', 'processed', 'failed', 'compared', 'mismatched'] as const) b[k] += Number(row[k] ?? 0);
      }
      for (const row of lost) bucketOf(row.i).lost += Number(row.n);
      const setsByBucket = new Map<number, { fields: string[]; count: number }[]>();
      for (const row of sets) setsByBucket.set(Number(row.i), [...(setsByBucket.get(Number(row.i)) ?? []), { fields: row.fields.split('\n'), count: Number(row.n) }]);
      for (const [i, own] of setsByBucket) bucketOf(i).withdrawable += withdrawable(own, plan.quiet);
      out.set(cohort.name, buckets);
    }),
  );
  return out;
}
