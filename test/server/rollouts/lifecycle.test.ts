import { describe, expect, it } from 'vitest';
import type { RolloutState } from '@rollcall/protocol';
import { AppError } from '../../../server/errors.ts';
import { breachOutcome, type BreachReport } from '../../../server/rollouts/breach.ts';
import { cohortForStep, decide, type LifecycleCommand } from '../../../server/rollouts/lifecycle.ts';
import { DEFAULT_GUARDS, type Cohort, type RolloutAggregate, type Step } from '../../../server/rollouts/model.ts';

const PLAN: Step[] = [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }, { live: 100 }];

function cohort(name: string, fromBp: number, toBp: number, status: Cohort['status'] = 'active', revertKind: Cohort['revertKind'] = null): Cohort {
  return { name, step: Number(name.slice(1)), fromBp, toBp, status, createdAt: 0, activeSince: 0, revertedAt: null, revertKind, revertedBy: null, revertReason: null };
}

function aggregate(state: RolloutState, step: number | null, cohorts: Cohort[] = []): RolloutAggregate {
  return {
    rollout: {
      id: 1, key: 'r', description: '', salt: 'r', state, stateReason: null, plan: PLAN, guards: DEFAULT_GUARDS, onBreach: 'revert-cohort',
      autoAdvance: false, compare: null, step, stepEnteredAt: null, measuredSince: null, completedAt: null, watchBreachedAt: null, version: 1, createdAt: 0, updatedAt: 0,
    },
    cohorts,
    pins: [],
  };
}

const stepOf: Record<RolloutState, number | null> = { draft: null, running: 1, paused: 1, reverted: 1, completed: 1 };
const cohortsOf = (state: RolloutState) => (state === 'draft' ? [] : [cohort('c1', 0, 500, state === 'reverted' ? 'reverted' : 'active')]);

const commands: Record<string, LifecycleCommand> = {
  start: { action: 'start' },
  advance: { action: 'advance' },
  'advance, forced': { action: 'advance', force: true },
  pause: { action: 'pause' },
  resume: { action: 'resume' },
  'revert c1': { action: 'revert', cohort: 'c1', kind: 'manual' },
  'revert all': { action: 'revert', kind: 'manual' },
  complete: { action: 'complete' },
};

// The whole transition table: the resulting state, or null for a 409.
const table: Record<RolloutState, Record<string, RolloutState | null>> = {
  draft: { start: 'running', advance: null, 'advance, forced': null, pause: null, resume: null, 'revert c1': null, 'revert all': null, complete: null },
  running: { start: null, advance: 'running', 'advance, forced': 'running', pause: 'paused', resume: null, 'revert c1': 'paused', 'revert all': 'reverted', complete: 'completed' },
  paused: { start: null, advance: null, 'advance, forced': 'paused', pause: null, resume: 'running', 'revert c1': 'paused', 'revert all': 'reverted', complete: 'completed' },
  reverted: { start: null, advance: null, 'advance, forced': null, pause: null, resume: 'running', 'revert c1': null, 'revert all': null, complete: null },
  completed: { start: null, advance: null, 'advance, forced': null, pause: null, resume: null, 'revert c1': null, 'revert all': 'reverted', complete: null },
};

function outcome(state: RolloutState, name: string): RolloutState | AppError {
  try {
    return decide(aggregate(state, stepOf[state], cohortsOf(state)), commands[name]!).state;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

describe('the transition table', () => {
  for (const [state, row] of Object.entries(table) as [RolloutState, Record<string, RolloutState | null>][]) {
    for (const [name, expected] of Object.entries(row)) {
      it(`${name} from ${state} ${expected === null ? 'is refused with 409' : `gives ${expected}`}`, () => {
        const result = outcome(state, name);
        if (expected === null) {
          expect(result).toBeInstanceOf(AppError);
          expect((result as AppError).status).toBe(409);
        } else {
          expect(result).toBe(expected);
        }
      });
    }
  }
});

describe('steps and cohorts', () => {
  it('creates one cohort per step that raises live, as the band from the previous live', () => {
    const started = decide(aggregate('draft', null), { action: 'start' });
    expect(started.step).toBe(0);
    expect(started.newCohort).toBeNull();
    const first = decide(aggregate('running', 0), { action: 'advance' });
    expect(first.newCohort).toEqual({ name: 'c1', step: 1, fromBp: 0, toBp: 500 });
    const second = decide(aggregate('running', 1, [cohort('c1', 0, 500)]), { action: 'advance' });
    expect(second.newCohort).toEqual({ name: 'c2', step: 2, fromBp: 500, toBp: 2500 });
  });

  it('creates no cohort for a step that keeps live where it was', () => {
    const agg = aggregate('running', 1, [cohort('c1', 0, 500)]);
    agg.rollout.plan = [{ live: 5 }, { live: 5, shadow: 50 }];
    agg.rollout.step = 0;
    expect(cohortForStep(agg, 1)).toBeNull();
  });

  it('starts straight into a cohort when the first step is live', () => {
    const agg = aggregate('draft', null);
    agg.rollout.plan = [{ live: 1.5 }];
    expect(decide(agg, { action: 'start' }).newCohort).toEqual({ name: 'c1', step: 0, fromBp: 0, toBp: 150 });
  });

  it('refuses to advance past the last step and points at complete', () => {
    expect(() => decide(aggregate('running', 3), { action: 'advance' })).toThrow(/step 4 of 4 is the last step of the plan; use complete/);
  });

  it('advances a paused rollout only with force, saying what it will and will not do', () => {
    const agg = aggregate('paused', 1, [cohort('c1', 0, 500, 'reverted'), cohort('c2', 500, 2500)]);
    agg.rollout.stateReason = 'guard loss breached in c1';
    let refused: AppError | undefined;
    try {
      decide(agg, { action: 'advance' });
    } catch (error) {
      refused = error as AppError;
    }
    expect(refused).toMatchObject({ status: 409, code: 'advance_needs_force' });
    expect(refused!.message).toBe(
      `${agg.rollout.key} is paused (guard loss breached in c1). advance would enter step 3 of 4 (live ${agg.rollout.plan[2]!.live}%) and leave it paused: ` +
        'cohort c1 stays on old, and nothing advances by itself until resume. To bring back what a guard reverted, resume; to advance anyway, pass force (rollcall advance --force).',
    );
    const forced = decide(agg, { action: 'advance', force: true });
    expect(forced).toMatchObject({ state: 'paused', step: 2, reactivate: [] });
  });

  it('reverts only the named cohort and refuses an unknown or already reverted one', () => {
    const agg = aggregate('running', 2, [cohort('c1', 0, 500), cohort('c2', 500, 2500)]);
    const decision = decide(agg, { action: 'revert', cohort: 'c2', kind: 'manual' });
    expect(decision.revert).toEqual(['c2']);
    expect(() => decide(agg, { action: 'revert', cohort: 'c9', kind: 'manual' })).toThrow(expect.objectContaining({ status: 404 }));
    agg.cohorts[1]!.status = 'reverted';
    expect(() => decide(agg, { action: 'revert', cohort: 'c2', kind: 'manual' })).toThrow(expect.objectContaining({ code: 'cohort_already_reverted' }));
  });

  it('reverting all touches only the active cohorts', () => {
    const agg = aggregate('running', 2, [cohort('c1', 0, 500), cohort('c2', 500, 2500, 'reverted', 'manual')]);
    expect(decide(agg, { action: 'revert', kind: 'manual' }).revert).toEqual(['c1']);
  });

  it('resume re-activates cohorts a breach reverted, and named ones, but not other manual reverts', () => {
    const agg = aggregate('paused', 3, [
      cohort('c1', 0, 500, 'reverted', 'breach'),
      cohort('c2', 500, 2500, 'reverted', 'manual'),
      cohort('c3', 2500, 10000, 'reverted', 'manual'),
    ]);
    expect(decide(agg, { action: 'resume' }).reactivate).toEqual(['c1']);
    expect(decide(agg, { action: 'resume', cohorts: ['c3'] }).reactivate).toEqual(['c1', 'c3']);
    expect(() => decide(aggregate('paused', 1, [cohort('c1', 0, 500)]), { action: 'resume', cohorts: ['c1'] })).toThrow(
      expect.objectContaining({ code: 'cohort_not_reverted' }),
    );
  });

  it('resume naming reverted cohorts of a running rollout brings back exactly those, in one action', () => {
    const agg = aggregate('running', 3, [cohort('c1', 0, 500, 'reverted', 'manual'), cohort('c2', 500, 2500, 'reverted', 'breach'), cohort('c3', 2500, 10000)]);
    const decision = decide(agg, { action: 'resume', cohorts: ['c1'] });
    expect(decision).toMatchObject({ state: 'running', event: 'rollout.resumed', reactivate: ['c1'], remeasure: false });
    // Without names there is nothing to resume from running; an active cohort cannot be resumed.
    expect(() => decide(agg, { action: 'resume' })).toThrow(expect.objectContaining({ status: 409 }));
    expect(() => decide(agg, { action: 'resume', cohorts: ['c3'] })).toThrow(expect.objectContaining({ code: 'cohort_not_reverted' }));
    expect(() => decide(aggregate('draft', null, []), { action: 'resume', cohorts: ['c1'] })).toThrow(expect.objectContaining({ code: 'transition_not_allowed' }));
  });
});

describe('a breach, said as what it does', () => {
  const breach = (kind: BreachReport['kind'], cohortName: string): BreachReport => ({ cohort: cohortName, kind, guard: 'loss', reason: 'r', figures: {} });
  const under = (onBreach: RolloutAggregate['rollout']['onBreach'], state: RolloutState = 'running') => {
    const agg = aggregate(state, 1, [cohort('c1', 0, 500)]);
    agg.rollout.onBreach = onBreach;
    return agg;
  };
  it('names exactly what changes under each onBreach, and nothing when it is already done', () => {
    expect(breachOutcome(under('revert-cohort'), breach('band', 'c1'))).toBe('cohort c1 reverted to old, rollout paused');
    expect(breachOutcome(under('revert-cohort'), breach('shadow', 'shadow'))).toBe('rollout paused, nothing reverted (a shadow breach has no cohort on new)');
    expect(breachOutcome(under('pause'), breach('band', 'c1'))).toBe('rollout paused, nothing reverted (onBreach: pause)');
    expect(breachOutcome(under('revert-all'), breach('band', 'c1'))).toBe('every cohort reverted to old (rollout reverted)');
    expect(breachOutcome(under('pause', 'completed'), breach('band', 'c1'))).toMatch(/^announced only/);
    expect(breachOutcome(under('pause', 'paused'), breach('band', 'c1'))).toBeNull();
  });
});
