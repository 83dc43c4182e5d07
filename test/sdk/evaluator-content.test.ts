/** The evaluator judges a snapshot changed by its content, not by its version alone. */
import { describe, expect, it } from 'vitest';
import { positionOf, type ConfigSnapshot, type RolloutSnapshot } from '@rollcall/protocol';
import { Evaluator } from '../../sdk/src/evaluation/evaluator.ts';

const rollout = (status: 'active' | 'reverted'): RolloutSnapshot => ({
  key: 'hooks', salt: 'hooks', state: 'running', version: 5, step: 0, live: 5000, shadow: 5000, verify: 0,
  cohorts: [{ name: 'c1', from: 0, to: 5000, status, reason: status === 'reverted' ? 'the race' : null }],
  pins: [],
} as RolloutSnapshot);
const snapshot = (status: 'active' | 'reverted'): ConfigSnapshot => ({ version: 5, rollouts: [rollout(status)] });

describe('the evaluator', () => {
  it('applies a snapshot of the same version whose content differs, and announces the revert in it', () => {
    const evaluator = new Evaluator();
    evaluator.apply(snapshot('active'), 'server');
    const member = Array.from({ length: 500 }, (_, i) => `p-${i}`).find((p) => positionOf('hooks', p) < 5000)!;
    expect(evaluator.path('hooks', member)).toBe('new');
    // The corrected snapshot carries the same version (the torn one had the new version with the old cohorts).
    const applied = evaluator.apply(snapshot('reverted'), 'server');
    expect(applied).not.toBeNull();
    expect(applied!.reverts).toEqual([{ rollout: 'hooks', cohort: 'c1', reason: 'the race', version: 5 }]);
    expect(evaluator.path('hooks', member)).toBe('old');
    // The very same content again is no change.
    expect(evaluator.apply(snapshot('reverted'), 'server')).toBeNull();
  });
});
