/** A rollout's differing fields over a window, judged: the read behind the mismatches API and the dashboard. */
import { PathSet } from '@rollcall/protocol';
import type { Executor } from '../db/database.ts';
import type { Rollout } from '../rollouts/model.ts';
import { fieldTestOf } from './guards.ts';
import { fieldCounts, judgeFields, learningProgress, quietFields } from './noise.ts';
import { comparedSince, fieldSets, noiseEvidence } from './noise-store.ts';

/** Noise is judged over the whole rollout; counts are shown for `cohort` when one is named. */
export async function fieldsOf(ex: Executor, rollout: Pick<Rollout, 'id' | 'compare' | 'guards'>, from: number, cohort?: string) {
  const [evidence, sets, compared] = await Promise.all([noiseEvidence(ex, rollout.id), fieldSets(ex, rollout.id, from), comparedSince(ex, rollout.id, from)]);
  const judged = judgeFields(evidence, sets, compared, new PathSet(rollout.compare?.ignore ?? []), fieldTestOf(rollout.guards));
  const [shownSets, shownCompared] = cohort === undefined ? [sets, compared] : await Promise.all([fieldSets(ex, rollout.id, from, cohort), comparedSince(ex, rollout.id, from, cohort)]);
  return { evidence, judged, quiet: quietFields(judged), counts: fieldCounts(shownSets), compared: shownCompared, learning: learningProgress(evidence) };
}
