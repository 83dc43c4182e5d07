/** What the API shows of cohort health: times as ISO-8601, thresholds beside the rates. */
import { COUNTERS, type Counter } from '@rollcall/protocol';
import { iso } from '../clock.ts';
import type { Guards, RolloutAggregate } from '../rollouts/model.ts';
import { effectiveShares } from '../rollouts/effective.ts';
import type { CohortHealth, RolloutHealth } from './measure.ts';
import type { Health } from './status.ts';

/** The statuses of a rollout and of its cohorts (status.ts). */
interface Judged {
  health: Health;
  cohorts: Map<string, Health>;
}

/** A cohort's figures in full, for the health API: the brief figures and what only it shows. */
export function cohortHealthView(c: CohortHealth, status: Judged) {
  return {
    ...cohortFigures(c, status),
    kind: c.kind,
    path: c.path,
    band: c.band,
    late: c.late,
    withdrawn: c.withdrawn,
    open: c.open,
    latencyMs: c.latency,
    breaches: c.breaches,
    verdicts: c.verdicts,
  };
}

export function healthView(health: RolloutHealth, guards: Guards, status: Judged) {
  return {
    rollout: health.rollout,
    version: health.version,
    health: status.health,
    at: iso(health.at),
    window: { seconds: health.windowSeconds, from: iso(health.from), to: iso(health.at), epoch: health.epoch },
    dueSeconds: health.dueMs / 1000,
    thresholds: guards,
    breached: health.breach !== null,
    breach: health.breach,
    learningNoise: health.learningNoise,
    cohorts: health.cohorts.map((c) => cohortHealthView(c, status)),
    latencyMs: health.latency,
    replay: health.replay,
  };
}

/** A cohort's figures in brief: the rollout summary shows them, and a guard.breached audit entry records them. */
export function cohortFigures(c: CohortHealth, status?: Judged) {
  // Skipped comparisons stand beside the ones run: a shadow step mostly skipped is not well covered.
  const counts = {} as Record<Counter, number>;
  for (const k of COUNTERS) counts[k] = c[k];
  return {
    name: c.name,
    status: c.status,
    ...(status === undefined ? {} : { health: status.cohorts.get(c.name) ?? null }),
    since: iso(c.since),
    ...counts,
    // Why events were dropped, when any were: refused, buffer_full, queue_full.
    ...(c.dropped > 0 ? { droppedBy: c.droppedBy ?? {} } : {}),
    due: c.due,
    lost: c.lost,
    rates: c.rates,
    breached: c.breaches.length > 0,
  };
}

/** The per-cohort summary that GET /v1/rollouts/:key carries. */
export function healthSummary(health: RolloutHealth, status: Judged) {
  return {
    ...status.health,
    at: iso(health.at),
    windowSeconds: health.windowSeconds,
    breached: health.breach !== null,
    cohorts: health.cohorts.map((c) => cohortFigures(c, status)),
    replay: health.replay,
  };
}

/** A rollout's status as the list, the dashboard list and /metrics show it, and when it was measured. */
export interface BoardEntry {
  version: number;
  /** When its figures were measured. */
  at: number;
  /** When a controller pass or a judgement last put it on the board: it stands BOARD_TTL_MS from then. */
  placed: number;
  health: Health;
  /** The share of the key space really on new (reverted cohorts excluded), in percent. */
  effectiveLive: number;
  /** What health judged of each cohort over its window (empty for a rollout not measured), for /metrics. */
  cohorts: JudgedCohort[];
  /** The rate guards' tolerances, beside the rates. */
  tolerances: Record<RateName, number>;
}

export type RateName = 'loss' | 'failureDelta' | 'mismatch';

/** A cohort's figures as health judged them: mismatches net of withdrawn noise, the rates its table shows. */
export interface JudgedCohort {
  name: string;
  compared: number;
  mismatched: number;
  withdrawn: number;
  rates: Record<RateName, number | null>;
}

function judgedCohorts(measured: RolloutHealth | undefined): JudgedCohort[] {
  return (measured?.cohorts ?? []).map((c) => ({ name: c.name, compared: c.compared, mismatched: c.mismatched, withdrawn: c.withdrawn, rates: { loss: c.rates.loss, failureDelta: c.rates.failureDelta, mismatch: c.rates.mismatch } }));
}

export function boardEntry(aggregate: RolloutAggregate, at: number, health: Health, measured: RolloutHealth | undefined, placed = at): BoardEntry {
  const { rollout, cohorts } = aggregate;
  const { guards } = rollout;
  return {
    version: rollout.version,
    at,
    placed,
    health,
    effectiveLive: effectiveShares(rollout, cohorts).effectiveLive,
    cohorts: judgedCohorts(measured),
    tolerances: { loss: guards.maxLossRate, failureDelta: guards.maxFailureRateDelta, mismatch: guards.maxMismatchRate },
  };
}
