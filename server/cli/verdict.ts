/**
 * One word for where a rollout stands, as the server judges it (the
 * `health` of GET /v1/rollouts and /v1/rollouts/:key): the same word for
 * `status` and for `wait --until healthy`.
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
  effectiveLive?: number;
  cohorts: CohortView[];
  updatedAt: string;
  /** The server's one status (status.ts there); the item also carries the cohorts' figures. */
  health?: { status: HealthStatus; reason: string; breached?: boolean; cohorts?: CohortFigures[] };
}

type HealthStatus = 'healthy' | 'breached' | 'reverted' | 'degraded' | 'idle';

export type VerdictStatus = HealthStatus | 'draft' | 'completed';

export interface Verdict {
  status: VerdictStatus;
  reason: string;
}

/**
 * The server's status, as the API, the dashboard and /metrics show it, with
 * two words of the CLI's own: `draft`, and `completed` for a completed
 * rollout that no guard found breached during its watch.
 */
export function verdictOf(rollout: RolloutDetail): Verdict {
  const health = rollout.health ?? { status: 'idle', reason: 'the server sent no health' };
  if (rollout.state === 'draft') return { status: 'draft', reason: health.reason };
  if (rollout.state === 'completed' && health.status !== 'breached') return { status: 'completed', reason: health.reason };
  return { status: health.status, reason: health.reason };
}

export const VERDICT_STYLE = { healthy: 'green', completed: 'green', degraded: 'yellow', idle: 'dim', draft: 'dim', breached: 'red', reverted: 'red' } as const;
