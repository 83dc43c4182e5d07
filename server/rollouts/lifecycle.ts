/**
 * The rollout state machine, as pure functions: each takes a rollout with its
 * cohorts and returns what should change, or throws a 409 naming why not.
 *
 *   start     draft            → running, first step
 *   advance   running | paused → same state, next step (past the last: use complete);
 *             from paused only with `force`: it stays paused and reverted cohorts stay reverted
 *   pause     running          → paused
 *   resume    paused | reverted→ running; re-activates cohorts a breach reverted,
 *                                and any cohorts named in the request
 *             running, naming reverted cohorts → running; re-activates exactly those
 *   revert    one cohort: running | paused → paused (nothing advances past a cohort
 *                                someone pulled back until a human resumes)
 *             all: running | paused | completed → reverted
 *   complete  running | paused → completed (every partner on new)
 */
import { basisPoints, type RolloutState } from '@rollcall/protocol';
import { conflict, notFound } from '../errors.ts';
import { stepLabel, type Cohort, type Rollout, type RolloutAggregate } from './model.ts';

export type LifecycleCommand =
  | { action: 'start' }
  | { action: 'advance'; force?: boolean }
  | { action: 'pause' }
  | { action: 'resume'; cohorts?: string[] }
  | { action: 'revert'; cohort?: string; kind: 'manual' | 'breach' }
  | { action: 'complete' };

export interface NewCohort {
  name: string;
  step: number;
  fromBp: number;
  toBp: number;
}

export interface LifecycleDecision {
  /** The audit and callback event name. */
  event: string;
  state: RolloutState;
  step: number | null;
  enteredStep: boolean;
  /** Start measuring afresh (start, advance, resume). */
  remeasure: boolean;
  newCohort: NewCohort | null;
  revert: string[];
  revertKind: 'manual' | 'breach';
  reactivate: string[];
  /** The cohort the change is about, when it is about one. */
  subject: string | null;
}

function refuse(action: string, state: RolloutState, allowed: RolloutState[]): never {
  throw conflict(
    'transition_not_allowed',
    `cannot ${action} a rollout that is ${state}; ${action} is allowed from ${allowed.join(' or ')}`,
    { state, action },
  );
}

function allowFrom(action: string, state: RolloutState, allowed: RolloutState[]): void {
  if (!allowed.includes(state)) refuse(action, state, allowed);
}

/** The cohort created by entering `step`: the band from the last cohort's end to the step's `live`. */
export function cohortForStep(aggregate: RolloutAggregate, step: number): NewCohort | null {
  const target = aggregate.rollout.plan[step];
  if (target === undefined) return null;
  const fromBp = aggregate.cohorts.reduce((end, c) => Math.max(end, c.toBp), 0);
  const toBp = basisPoints(target.live);
  if (toBp <= fromBp) return null;
  return { name: `c${aggregate.cohorts.length + 1}`, step, fromBp, toBp };
}

function base(aggregate: RolloutAggregate): Omit<LifecycleDecision, 'event' | 'state'> {
  return {
    step: aggregate.rollout.step,
    enteredStep: false,
    remeasure: false,
    newCohort: null,
    revert: [],
    revertKind: 'manual',
    reactivate: [],
    subject: null,
  };
}

function findCohort(aggregate: RolloutAggregate, name: string): Cohort {
  const cohort = aggregate.cohorts.find((c) => c.name === name);
  if (cohort === undefined) throw notFound('cohort', name);
  return cohort;
}

/**
 * Why advancing a paused rollout needs `force`, saying what it would and would not do: a paused rollout
 * (a guard breached, or someone pulled a cohort back) advanced by hand stays paused, so nothing advances
 * by itself, and its reverted cohorts stay on old; `resume` is what brings them back.
 */
function pausedAdvance(aggregate: RolloutAggregate, next: number): string {
  const { key, plan, stateReason } = aggregate.rollout;
  const reverted = aggregate.cohorts.filter((c) => c.status === 'reverted').map((c) => c.name);
  const stays = reverted.length === 0 ? '' : `cohort${reverted.length === 1 ? '' : 's'} ${reverted.join(', ')} stay${reverted.length === 1 ? 's' : ''} on old, and `;
  return (
    `${key} is paused${stateReason ? ` (${stateReason})` : ''}. advance would enter ${stepLabel(next, plan.length)} (live ${plan[next]!.live}%) ` +
    `and leave it paused: ${stays}nothing advances by itself until resume. To bring back what a guard reverted, resume; to advance anyway, pass force (rollcall advance --force).`
  );
}

export function decide(aggregate: RolloutAggregate, command: LifecycleCommand): LifecycleDecision {
  const { state, plan, step } = aggregate.rollout;
  switch (command.action) {
    case 'start': {
      allowFrom('start', state, ['draft']);
      return {
        ...base(aggregate),
        event: 'rollout.started',
        state: 'running',
        step: 0,
        enteredStep: true,
        remeasure: true,
        newCohort: cohortForStep(aggregate, 0),
      };
    }
    case 'advance': {
      allowFrom('advance', state, ['running', 'paused']);
      const next = (step ?? -1) + 1;
      if (next >= plan.length) {
        throw conflict('no_next_step', `${stepLabel(step, plan.length)} is the last step of the plan; use complete to put every partner on new`);
      }
      if (state === 'paused' && command.force !== true) throw conflict('advance_needs_force', pausedAdvance(aggregate, next), { state, step: next });
      const newCohort = cohortForStep(aggregate, next);
      return {
        ...base(aggregate),
        event: 'rollout.advanced',
        state,
        step: next,
        enteredStep: true,
        remeasure: true,
        newCohort,
        subject: newCohort?.name ?? null,
      };
    }
    case 'pause': {
      allowFrom('pause', state, ['running']);
      return { ...base(aggregate), event: 'rollout.paused', state: 'paused' };
    }
    case 'resume': {
      // From running, naming reverted cohorts brings back exactly those, in one action (no pause first).
      const fromRunning = state === 'running' && (command.cohorts ?? []).length > 0;
      if (!fromRunning) allowFrom('resume', state, ['paused', 'reverted']);
      const named = (command.cohorts ?? []).map((name) => findCohort(aggregate, name));
      for (const cohort of named) {
        if (cohort.status !== 'reverted') {
          throw conflict('cohort_not_reverted', `cohort ${cohort.name} is ${cohort.status}, not reverted`);
        }
      }
      // Each re-activated cohort is measured from its return; the rest of a running rollout keeps its window.
      if (fromRunning) return { ...base(aggregate), event: 'rollout.resumed', state: 'running', remeasure: false, reactivate: named.map((c) => c.name) };
      const reactivate = aggregate.cohorts
        .filter((c) => c.status === 'reverted' && (c.revertKind === 'breach' || named.includes(c)))
        .map((c) => c.name);
      return { ...base(aggregate), event: 'rollout.resumed', state: 'running', remeasure: true, reactivate };
    }
    case 'revert': {
      if (command.cohort !== undefined) {
        allowFrom('revert a cohort of', state, ['running', 'paused']);
        const cohort = findCohort(aggregate, command.cohort);
        if (cohort.status === 'reverted') {
          throw conflict('cohort_already_reverted', `cohort ${cohort.name} is already reverted`);
        }
        return {
          ...base(aggregate),
          event: 'cohort.reverted',
          state: 'paused',
          revert: [cohort.name],
          revertKind: command.kind,
          subject: cohort.name,
        };
      }
      allowFrom('revert', state, ['running', 'paused', 'completed']);
      return {
        ...base(aggregate),
        event: 'rollout.reverted',
        state: 'reverted',
        revert: aggregate.cohorts.filter((c) => c.status === 'active').map((c) => c.name),
        revertKind: command.kind,
      };
    }
    case 'complete': {
      allowFrom('complete', state, ['running', 'paused']);
      return { ...base(aggregate), event: 'rollout.completed', state: 'completed' };
    }
  }
}

/** The rollout's columns a decision sets (besides its version): the same whether it is written in a transaction or a batch. */
export function decisionChanges(decision: LifecycleDecision, reason: string | null, now: number): Partial<Omit<Rollout, 'id' | 'key' | 'version' | 'createdAt'>> {
  return {
    state: decision.state,
    // The reason of the latest lifecycle act (an advance without one clears the start's), as the page shows it.
    stateReason: reason,
    step: decision.step,
    updatedAt: now,
    ...(decision.enteredStep ? { stepEnteredAt: now } : {}),
    ...(decision.remeasure ? { measuredSince: now } : {}),
    ...(decision.state === 'completed' ? { completedAt: now, watchBreachedAt: null } : {}),
  };
}
