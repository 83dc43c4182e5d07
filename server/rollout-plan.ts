/**
 * A rollout's plan, guards and breach policy: the shapes the rollouts table
 * stores (db/schema.ts types its JSON columns with them) and the rollouts
 * domain works with (rollouts/model.ts re-exports them with their defaults).
 * They live here, below both, so that the schema imports no domain.
 */

export interface Step {
  /** Percent of partners (0..100, two decimals at most) on the new path. Never decreases along a plan. */
  live: number;
  /** Partners past `live` but inside `shadow` percent run both paths, old authoritative. */
  shadow?: number;
  /** Share (0..1) of live messages that also run the old path, new authoritative. */
  verify?: number;
  bakeSeconds?: number;
  minMessages?: number;
}

export interface Guards {
  graceSeconds: number;
  windowSeconds: number;
  minSample: number;
  maxLossRate: number;
  maxFailureRateDelta: number;
  maxMismatchRate: number;
  /** A reporter silent this long is declared gone and waited for no more (default max(60, 2 × graceSeconds)). */
  reporterTimeoutSeconds: number;
  /** How long a completed rollout keeps being reconciled (0: not at all). */
  watchSeconds: number;
  /** The chance, per cohort and step, of reverting a cohort within every tolerance (split over the guards). */
  alpha: number;
  /** The new path's p95 latency may be at most this many times the old path's (0: the latency guard is off). */
  maxLatencyRatio: number;
}

export type OnBreach = 'revert-cohort' | 'revert-all' | 'pause';
