/**
 * Withdraws, from each measured cohort's mismatches, those whose every
 * differing field is noise or ignored by the rollout's rules (see noise.ts),
 * so the guards, the API and the dashboard see the same withdrawn figures;
 * and hands the mismatch guard each cohort's differences by field beside the
 * double runs of the old path (its per-field test).
 */
import { PathSet } from '@rollcall/protocol';
import type { Executor } from '../db/database.ts';
import type { Rollout } from '../rollouts/model.ts';
import { fieldTestOf, type FieldCount, type Figures } from './guards.ts';
import { fieldCounts, ignoredBy, judgeFields, learningProgress, quietFields, withdrawable } from './noise.ts';
import { comparedSince, fieldSets, noiseEvidence } from './noise-store.ts';

export interface NoiseOutcome {
  /** While noise is being learned and few double runs are in: how many, of how many (shown; verdicts need no minimum). */
  learning: { runs: number; needed: number } | null;
  /** Mismatches withdrawn per measured cohort, in the order given. */
  withdrawn: number[];
  /** Double runs of the old path (null: nobody learns noise for this rollout). */
  runs: number | null;
  /** Per measured cohort, its mismatches by field (empty without mismatches). */
  fields: FieldCount[][];
  /** Fields whose mismatches were withdrawn as noise while the evidence could still show they are not (noise.ts): advancing waits. */
  unsettled: string[];
}

export async function withdrawNoise(ex: Executor, rollout: Pick<Rollout, 'id' | 'compare' | 'guards'>, from: number, cohorts: { name: string; since: number }[], figures: Figures[]): Promise<NoiseOutcome> {
  const none = cohorts.map(() => 0);
  const noFields = cohorts.map((): FieldCount[] => []);
  // Nothing to withdraw or judge by field: the common case costs no query.
  if (figures.every((f) => f.mismatched === 0)) return { learning: null, withdrawn: none, runs: null, fields: noFields, unsettled: [] };
  const [evidence, sets, compared] = await Promise.all([noiseEvidence(ex, rollout.id), fieldSets(ex, rollout.id, from), comparedSince(ex, rollout.id, from)]);
  const learning = learningProgress(evidence);
  if (sets.length === 0) return { learning, withdrawn: none, runs: evidence.runs, fields: noFields, unsettled: [] };
  const ignore = new PathSet(rollout.compare?.ignore ?? []);
  const judged = judgeFields(evidence, sets, compared, ignore, fieldTestOf(rollout.guards));
  const quiet = quietFields(judged);
  const unsettled = [...judged.values()].filter((j) => j.unsettled && !j.ignored).map((j) => j.path);
  const differing = new Map(evidence.fields.map((f) => [f.path, f.differing]));
  const fields: FieldCount[][] = [];
  const withdrawn = await Promise.all(
    cohorts.map(async (cohort, i) => {
      const f = figures[i]!;
      if (f.mismatched === 0) return 0;
      const own = await fieldSets(ex, rollout.id, cohort.since, cohort.name);
      fields[i] = [...fieldCounts(own)].map(([path, count]) => ({ path, count, differing: differing.get(path) ?? 0, ignored: ignoredBy(ignore, path) }));
      const n = Math.min(f.mismatched, withdrawable(own, quiet));
      f.mismatched -= n;
      return n;
    }),
  );
  return { learning, withdrawn, runs: evidence.runs, fields: cohorts.map((_, i) => fields[i] ?? []), unsettled };
}
