/** Steps already entered are history: the check every plan change goes through (the API and `rollcall apply`). */
import { conflict } from '../errors.ts';
import type { Rollout, Step } from './model.ts';

const canonicalStep = (step: Step | undefined) =>
  step === undefined ? 'none' : JSON.stringify(Object.entries(step).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));

/** Steps already entered are history; only the steps after the current one may change. */
export function checkPlanChange(rollout: Pick<Rollout, 'state' | 'step' | 'plan'>, plan: Step[]): void {
  if (rollout.state === 'draft') return;
  if (rollout.state === 'completed') throw conflict('plan_locked', 'a completed rollout has no future steps to change');
  const entered = rollout.step ?? -1;
  for (let i = 0; i <= entered; i++) {
    if (canonicalStep(plan[i]) !== canonicalStep(rollout.plan[i])) {
      throw conflict('plan_step_locked', `steps 1 to ${entered + 1} have been entered and cannot change; step ${i + 1} differs`, { step: i });
    }
  }
}
