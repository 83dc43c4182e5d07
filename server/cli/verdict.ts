/**
 * One word for where a rollout stands, judged from what the server reports
 * today (its state, its cohorts, the health summary of GET /v1/rollouts/:key):
 * the same judgement for `status` and for `wait --until healthy`.
 */
import type { RemoteRollout } from './apply.ts';

export interface CohortView {
  name: string;
  step: number;
  from: number;
  to: number;
  status: 'active' | 'reverted';
  revertKind: string | null;
  revertedBy: string | null;
  revertReason: string | null;
}

export interface CohortFigures {
  name: string;
  status: 'active' | 'reverted' | null;
  received: number;
  due: number;
  processed: number;
  failed: number;
  lost: number;
  compared: number;
  mismatched: number;
  dropped: number;
  breached: boolean;
}

export interface RolloutDetail extends RemoteRollout {
  stateReason: string | null;
  live: number;
  shadow: number | null;
  cohorts: CohortView[];
  updatedAt: string;
  health?: { breached: boolean; cohorts: CohortFigures[] };
}

export type VerdictStatus = 'draft' | 'healthy' | 'measuring' | 'idle' | 'breached' | 'reverted' | 'completed';

export interface Verdict {
  status: VerdictStatus;
  reason: string;
}

/**
 * `healthy` means the guards have had enough to judge and found nothing: no
 * breach, no cohort reverted, and the current step's cohort has at least
 * `minSample` due messages (or comparisons, in a shadow step). Until then it
 * is `measuring`; a step with nobody on the new path is `idle`.
 */
export function verdictOf(rollout: RolloutDetail): Verdict {
  if (rollout.state === 'reverted') return { status: 'reverted', reason: rollout.stateReason ?? 'the whole rollout was reverted' };
  const reverted = rollout.cohorts.find((c) => c.status === 'reverted');
  if (reverted !== undefined) {
    const by = reverted.revertKind === 'breach' ? 'by a guard' : `by ${reverted.revertedBy ?? 'hand'}`;
    return { status: 'reverted', reason: `${reverted.name} reverted ${by}${reverted.revertReason === null ? '' : `: ${reverted.revertReason}`}` };
  }
  const breached = rollout.health?.cohorts.find((c) => c.breached);
  if (rollout.health?.breached === true) return { status: 'breached', reason: `${breached?.name ?? 'a cohort'} breaches a guard${rollout.stateReason === null ? '' : `: ${rollout.stateReason}`}` };
  if (rollout.state === 'draft') return { status: 'draft', reason: 'not started' };
  if (rollout.state === 'completed') return { status: 'completed', reason: 'every partner is on the new path' };
  const minSample = rollout.guards.minSample ?? 100;
  const figures = (name: string) => rollout.health?.cohorts.find((c) => c.name === name);
  const step = rollout.step === null ? undefined : rollout.plan[rollout.step];
  const current = rollout.cohorts.filter((c) => c.status === 'active').at(-1);
  const inShadow = step?.shadow !== undefined && step.shadow > step.live;
  const evidence: string[] = [];
  if (current !== undefined) {
    const due = figures(current.name)?.due ?? 0;
    if (due < minSample) evidence.push(`${current.name}: ${due} of ${minSample} due messages`);
  }
  if (inShadow) {
    const compared = figures('shadow')?.compared ?? 0;
    if (compared < minSample) evidence.push(`shadow: ${compared} of ${minSample} comparisons`);
  }
  if (current === undefined && !inShadow) return { status: 'idle', reason: 'nobody is on the new path at this step' };
  if (evidence.length > 0) return { status: 'measuring', reason: evidence.join('; ') };
  return { status: 'healthy', reason: rollout.state === 'paused' ? 'paused; no guard breached' : 'no guard breached' };
}

export const VERDICT_STYLE = { healthy: 'green', completed: 'green', measuring: 'cyan', idle: 'dim', draft: 'dim', breached: 'red', reverted: 'red' } as const;
