/**
 * Withdraws, from each measured cohort's mismatches, those whose every
 * differing field is noise or ignored by the rollout's rules (see noise.ts),
 * so the guards, the API and the dashboard see the same withdrawn figures.
 */
import { PathSet } from '../../sdk/json-path.ts';
import type { Executor } from '../db/database.ts';
import type { Rollout } from '../rollouts/model.ts';
import type { Figures } from './guards.ts';
import { judgeFields, learningProgress, quietFields, withdrawable } from './noise.ts';
import { comparedSince, fieldSets, noiseEvidence } from './noise-store.ts';

export interface NoiseOutcome {
  /** Set while noise is being learned and too few double runs are in: the shadow verdict waits. */
  learning: { runs: number; needed: number } | null;
  /** Mismatches withdrawn per measured cohort, in the order given. */
  withdrawn: number[];
}

export async function withdrawNoise(ex: Executor, rollout: Pick<Rollout, 'id' | 'compare'>, from: number, cohorts: { name: string; since: number }[], figures: Figures[]): Promise<NoiseOutcome> {
  const none = cohorts.map(() => 0);
  // Nothing to withdraw or hold back: the common case costs no query.
  if (figures.every((f) => f.mismatched === 0)) return { learning: null, withdrawn: none };
  const [evidence, sets, compared] = await Promise.all([noiseEvidence(ex, rollout.id), fieldSets(ex, rollout.id, from), comparedSince(ex, rollout.id, from)]);
  const learning = learningProgress(evidence);
  if (sets.length === 0) return { learning, withdrawn: none };
  const quiet = quietFields(judgeFields(evidence, sets, compared, new PathSet(rollout.compare?.ignore ?? [])));
  if (quiet.size === 0) return { learning, withdrawn: none };
  const withdrawn = await Promise.all(
    cohorts.map(async (cohort, i) => {
      const f = figures[i]!;
      if (f.mismatched === 0) return 0;
      const n = Math.min(f.mismatched, withdrawable(await fieldSets(ex, rollout.id, cohort.since, cohort.name), quiet));
      f.mismatched -= n;
      return n;
    }),
  );
  return { learning, withdrawn };
}
