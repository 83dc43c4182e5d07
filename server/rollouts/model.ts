/** The rollout domain's types and defaults, free of HTTP and storage. */
import type { CohortStatus, CompareRules, Path, RolloutState } from '@rollcall/protocol';
import type { Guards, OnBreach, Step } from '../rollout-plan.ts';

export type { Guards, OnBreach, Step } from '../rollout-plan.ts';

/** The reporter timeout that follows the grace unless set. */
export const defaultReporterTimeout = (graceSeconds: number) => Math.max(60, 2 * graceSeconds);

/** The guards' reporter timeout (rollouts stored before it existed have none: the default). */
export const reporterTimeoutOf = (guards: Guards) => guards.reporterTimeoutSeconds ?? defaultReporterTimeout(guards.graceSeconds);

export const DEFAULT_GUARDS: Guards = {
  graceSeconds: 30,
  windowSeconds: 600,
  minSample: 100,
  maxLossRate: 0.001,
  maxFailureRateDelta: 0.01,
  maxMismatchRate: 0.01,
  reporterTimeoutSeconds: defaultReporterTimeout(30),
  watchSeconds: 7 * 86_400,
  alpha: 0.001,
  maxLatencyRatio: 2,
};

/** The guards' watch after completion (rollouts stored before it existed have none: the default). */
export const watchSecondsOf = (guards: Guards) => guards.watchSeconds ?? DEFAULT_GUARDS.watchSeconds;

/** Whether the controller watches the rollout at `now`: running or paused, or completed and inside its watch (what store.ts `watchedAt` selects). */
export function isWatched(rollout: Pick<Rollout, 'state' | 'completedAt' | 'guards'>, now: number): boolean {
  if (rollout.state === 'running' || rollout.state === 'paused') return true;
  return rollout.state === 'completed' && rollout.completedAt !== null && rollout.completedAt + watchSecondsOf(rollout.guards) * 1000 > now;
}

export interface Rollout {
  id: number;
  key: string;
  description: string;
  salt: string;
  state: RolloutState;
  /** The reason given with the latest lifecycle action (start, advance, pause, resume, revert, complete), or null. */
  stateReason: string | null;
  plan: Step[];
  guards: Guards;
  onBreach: OnBreach;
  autoAdvance: boolean;
  /** Comparison rules every SDK merges with its own, or null. */
  compare: CompareRules | null;
  step: number | null;
  stepEnteredAt: number | null;
  /** Guards measure from here (start, advance, resume). */
  measuredSince: number | null;
  /** When it was completed; the watch after completion runs from here. */
  completedAt: number | null;
  /** When the watch after completion announced a breach (once per completed rollout). */
  watchBreachedAt: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface Cohort {
  name: string;
  step: number;
  fromBp: number;
  toBp: number;
  status: CohortStatus;
  createdAt: number;
  /** When it last became active; guards measure the cohort from here. */
  activeSince: number | null;
  revertedAt: number | null;
  revertKind: 'manual' | 'breach' | null;
  revertedBy: string | null;
  revertReason: string | null;
}

export interface Pin {
  partnerId: string;
  path: Path;
  createdAt: number;
  createdBy: string;
}

/** A rollout with everything that decides its routing. */
export interface RolloutAggregate {
  rollout: Rollout;
  cohorts: Cohort[];
  pins: Pin[];
}

/** The rollout's current step, or undefined for a draft. */
/**
 * Where a rollout is, as people are told it: "step 2 of 4" counts from 1 (the plan's second entry), in
 * the CLI, the dashboard, log lines, reasons and `rollcall wait --until step=N`. The API's `step` field
 * is the plan's index (0 for the first step), as the wire has always had it.
 */
export function stepLabel(step: number | null, planLength: number): string {
  return step === null ? 'not started' : `step ${step + 1} of ${planLength}`;
}

export function currentStep(rollout: Pick<Rollout, 'plan' | 'step'>): Step | undefined {
  return rollout.step === null ? undefined : rollout.plan[rollout.step];
}

/** A step's shares in percent: `live` on new, up to `shadow` on both paths, `verify` of live messages compared. */
export interface StepShares {
  live: number | null;
  shadow: number | null;
  verify: number | null;
}

/**
 * The current step's shares as planned, null where the step sets none (and
 * all null for a draft). Every caller that shows or routes by a step reads it
 * here; what a completed or reverted rollout means on top is the caller's.
 */
/** Whether the current step sends some partners down both paths (its `shadow` reaches past its `live`). */
export function hasShadowBand(rollout: Pick<Rollout, 'plan' | 'step'>): boolean {
  const step = currentStep(rollout);
  return step?.shadow !== undefined && step.shadow > step.live;
}

export function stepShares(rollout: Pick<Rollout, 'plan' | 'step'>): StepShares {
  const step = currentStep(rollout);
  return { live: step?.live ?? null, shadow: step?.shadow ?? null, verify: step?.verify ?? null };
}

/** A decision as it is announced: the rollout after it, and who decided what about which cohort. */
export interface RolloutChange {
  type: string;
  at: number;
  rollout: Rollout;
  cohort: string | null;
  reason: string | null;
  actor: string;
  figures: unknown;
}
