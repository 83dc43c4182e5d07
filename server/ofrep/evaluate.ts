/**
 * OFREP evaluation: a rollout is a string flag whose value (and variant) is
 * the partner's path, decided by the SDK's own assignment code over the
 * snapshot in memory, so OFREP and every SDK agree partner for partner.
 */
import { compileRollout, routeInto, type CompiledRollout, type ConfigSnapshot, type Path, type RolloutState, type Route } from '@rollcall/protocol';

/** The OpenFeature reasons OFREP answers with, from the rollout's state and the partner's cohort. */
export type OfrepReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED';

export interface OfrepSuccess {
  key: string;
  value: Path;
  variant: Path;
  reason: OfrepReason;
  metadata: { rollout: string; cohort: string; version: number; state: RolloutState };
}

export function reasonOf(state: RolloutState, cohort: string): OfrepReason {
  if (state === 'completed') return 'STATIC';
  if (state !== 'running' && state !== 'paused') return 'DISABLED';
  return cohort === 'pinned' ? 'TARGETING_MATCH' : 'SPLIT';
}

// Compiled once per snapshot: the snapshot object is replaced on every change.
const compiledBySnapshot = new WeakMap<ConfigSnapshot, Map<string, CompiledRollout>>();

function compiled(snapshot: ConfigSnapshot): Map<string, CompiledRollout> {
  let byKey = compiledBySnapshot.get(snapshot);
  if (byKey === undefined) {
    byKey = new Map(snapshot.rollouts.map((r) => [r.key, compileRollout(r)]));
    compiledBySnapshot.set(snapshot, byKey);
  }
  return byKey;
}

function evaluateCompiled(rollout: CompiledRollout, partnerId: string): OfrepSuccess {
  const route: Route = { path: 'old', cohort: 'baseline' };
  routeInto(rollout, partnerId, route);
  return {
    key: rollout.key,
    value: route.path,
    variant: route.path,
    reason: reasonOf(rollout.state, route.cohort),
    metadata: { rollout: rollout.key, cohort: route.cohort, version: rollout.version, state: rollout.state },
  };
}

/** One flag for one partner; undefined when the snapshot has no such rollout. */
export function evaluateFlag(snapshot: ConfigSnapshot, key: string, partnerId: string): OfrepSuccess | undefined {
  const rollout = compiled(snapshot).get(key);
  return rollout === undefined ? undefined : evaluateCompiled(rollout, partnerId);
}

/** Every flag for one partner, in the snapshot's order. */
export function evaluateAll(snapshot: ConfigSnapshot, partnerId: string): OfrepSuccess[] {
  return [...compiled(snapshot).values()].map((rollout) => evaluateCompiled(rollout, partnerId));
}
