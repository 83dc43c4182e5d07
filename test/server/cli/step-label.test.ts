/** The command line words a rollout's step as the server does, from its own copy (it imports nothing of the server). */
import { describe, expect, it } from 'vitest';
import { stepLabel } from '../../../server/cli/step-label.ts';
import { stepLabel as serverStepLabel } from '../../../server/rollouts/model.ts';

describe('the step label', () => {
  it('is the server’s wording, counted from 1', () => {
    expect(stepLabel(1, 4)).toBe('step 2 of 4');
    expect(stepLabel(null, 4)).toBe('not started');
    for (const step of [null, 0, 1, 3, 99]) for (const length of [1, 4, 100]) expect(stepLabel(step, length)).toBe(serverStepLabel(step, length));
  });
});
