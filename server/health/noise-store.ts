/** Health's reads of noise: what SDKs learned for a rollout, and its mismatches by field set. */
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { cohortCounts, learnedNoise, mismatchFieldSets, noiseRuns } from '../db/schema.ts';
import type { FieldSet, NoiseEvidence } from './noise.ts';

export async function noiseEvidence(ex: Executor, rolloutId: number): Promise<NoiseEvidence> {
  const [runs, fields] = await Promise.all([
    ex.select({ runs: noiseRuns.runs }).from(noiseRuns).where(eq(noiseRuns.rolloutId, rolloutId)),
    ex
      .select({ path: learnedNoise.path, differing: learnedNoise.differing, firstSeenAt: learnedNoise.firstSeenAt, learnedAt: learnedNoise.learnedAt, learnedFrom: learnedNoise.learnedFrom })
      .from(learnedNoise)
      .where(eq(learnedNoise.rolloutId, rolloutId))
      .orderBy(learnedNoise.path)
      .limit(1_000),
  ]);
  return { runs: runs[0]?.runs ?? null, fields };
}

/** Mismatch field sets since `from` (ms), of one cohort or of all. */
export async function fieldSets(ex: Executor, rolloutId: number, from: number, cohort?: string): Promise<FieldSet[]> {
  const rows = await ex
    .select({ fields: mismatchFieldSets.fields, count: sql<number>`sum(${mismatchFieldSets.count})` })
    .from(mismatchFieldSets)
    .where(
      and(
        eq(mismatchFieldSets.rolloutId, rolloutId),
        cohort === undefined ? undefined : eq(mismatchFieldSets.cohort, cohort),
        inArray(mismatchFieldSets.path, ['old', 'new', 'shadow']),
        gte(mismatchFieldSets.bucket, Math.floor(from / 1000)),
      ),
    )
    .groupBy(mismatchFieldSets.fields);
  return rows.map((r) => ({ fields: r.fields.split('\n'), count: Number(r.count) }));
}

/** Comparisons since `from` (ms), of one cohort or of all: the whole a field's count is out of. */
export async function comparedSince(ex: Executor, rolloutId: number, from: number, cohort?: string): Promise<number> {
  const [row] = await ex
    .select({ n: sql<number>`coalesce(sum(${cohortCounts.compared}), 0)` })
    .from(cohortCounts)
    .where(
      and(
        eq(cohortCounts.rolloutId, rolloutId),
        cohort === undefined ? undefined : eq(cohortCounts.cohort, cohort),
        inArray(cohortCounts.path, ['old', 'new', 'shadow']),
        gte(cohortCounts.bucket, Math.floor(from / 1000)),
      ),
    );
  return Number(row?.n ?? 0);
}
