/** What a guard breach asks of a rollout, as a pure function of the rollout and the breach. */
import type { LifecycleCommand } from './lifecycle.ts';
import type { RolloutAggregate } from './model.ts';

/** What the controller found: the guard, its figures, and the cohort it is about. */
export interface BreachReport {
  cohort: string;
  /** A band cohort (`c1`…) or the shadow cohort. */
  kind: 'band' | 'shadow';
  guard: string;
  reason: string;
  figures: unknown;
}

/**
 * What a breach calls for under the rollout's `onBreach`, or null when it is
 * already done. During the watch after completion, `revert-all` sends every
 * partner back to old; the others only announce the breach (`announce`), once.
 */
export function breachCommand(aggregate: RolloutAggregate, breach: BreachReport): LifecycleCommand | 'announce' | null {
  const { onBreach, state } = aggregate.rollout;
  if (state === 'completed') {
    if (onBreach === 'revert-all') return { action: 'revert', kind: 'breach' };
    return aggregate.rollout.watchBreachedAt === null ? 'announce' : null;
  }
  if (state !== 'running' && state !== 'paused') return null;
  if (onBreach === 'revert-all') return { action: 'revert', kind: 'breach' };
  if (onBreach === 'revert-cohort' && breach.kind === 'band') {
    const cohort = aggregate.cohorts.find((c) => c.name === breach.cohort);
    return cohort?.status === 'active' ? { action: 'revert', cohort: breach.cohort, kind: 'breach' } : null;
  }
  // 'pause', or a shadow breach (no cohort to revert): freeze, so nothing advances into a live step.
  return state === 'running' ? { action: 'pause' } : null;
}


/** What applying a breach does, in words for the log line: exactly what `breachCommand` changes. */
export function breachOutcome(aggregate: RolloutAggregate, breach: BreachReport): string | null {
  const command = breachCommand(aggregate, breach);
  if (command === null) return null;
  if (command === 'announce') return `announced only: the rollout is completed and onBreach is ${aggregate.rollout.onBreach}, so every partner stays on new`;
  if (command.action === 'revert') return command.cohort === undefined ? 'every cohort reverted to old (rollout reverted)' : `cohort ${command.cohort} reverted to old, rollout paused`;
  if (breach.kind === 'shadow') return 'rollout paused, nothing reverted (a shadow breach has no cohort on new)';
  return 'rollout paused, nothing reverted (onBreach: pause)';
}
