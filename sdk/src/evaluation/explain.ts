/** `evaluate()`'s answer but for freshness: the path with why. Allocates; `path()` is the hot path. */
import type { Path, RolloutState } from '@rollcall/protocol';
import type { Evaluator } from './evaluator.ts';

export interface Explanation {
  path: Path;
  cohort: string;
  known: boolean;
  state: RolloutState | null;
  version: number | null;
}

export function explain(evaluator: Evaluator, rolloutKey: string, partnerId: string): Explanation {
  const route = { path: 'old' as Path, cohort: 'baseline' };
  const known = evaluator.has(rolloutKey);
  const rollout = evaluator.snapshot?.rollouts.find((r) => r.key === rolloutKey);
  try {
    evaluator.route(rolloutKey, partnerId, route);
  } catch {
    route.path = 'old';
  }
  return { path: route.path, cohort: route.cohort, known, state: rollout?.state ?? null, version: rollout?.version ?? null };
}
