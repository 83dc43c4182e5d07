/**
 * The wire shape of `GET /v1/sdk/config` and of every snapshot on
 * `GET /v1/sdk/stream`: everything an SDK needs to route every partner of
 * every rollout locally. Positions and bands are in basis points (0..10000).
 */

export type Path = 'old' | 'new' | 'shadow';

export const ROLLOUT_STATES = ['draft', 'running', 'paused', 'reverted', 'completed'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export type CohortStatus = 'active' | 'reverted';

export interface CohortSnapshot {
  /** `c1`, `c2`, … in the order the plan created them. */
  name: string;
  /** First position inside the band. */
  from: number;
  /** First position past the band. */
  to: number;
  status: CohortStatus;
  /** Why it was reverted, when it was. */
  reason?: string | null;
}

export interface PinSnapshot {
  partnerId: string;
  path: Path;
}

export interface RolloutSnapshot {
  key: string;
  salt: string;
  state: RolloutState;
  /** The reason given with the rollout's latest lifecycle action (a pause, a revert…), if any. */
  reason?: string | null;
  /** Increments on every change of this rollout. */
  version: number;
  /** Index of the current plan step; null while the rollout is a draft. */
  step: number | null;
  /** Partners below this position are inside a cohort. */
  live: number;
  /** Partners at or past `live` and below this position run in shadow. */
  shadow: number;
  /** Share (0..1) of live messages that also run the old path for comparison. */
  verify: number;
  cohorts: CohortSnapshot[];
  pins: PinSnapshot[];
  /** Comparison rules set on the rollout, merged with the service's own (absent when none are set). */
  compare?: CompareRules;
}

/** Comparison rules an admin sets on a rollout: they reach every SDK without a redeploy. */
export interface CompareRules {
  ignore?: string[];
  unorderedArrays?: boolean | string[];
  numericTolerance?: number | { absolute?: number; relative?: number };
}

export interface ConfigSnapshot {
  /** Sum of the rollouts' versions: it grows with every change, so a lower one is stale. */
  version: number;
  rollouts: RolloutSnapshot[];
}
