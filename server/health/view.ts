/** What the API shows of cohort health: times as ISO-8601, thresholds beside the rates. */
import { COUNTERS, type Counter } from '../../sdk/wire.ts';
import { iso } from '../clock.ts';
import type { Guards } from '../rollouts/model.ts';
import type { CohortHealth, RolloutHealth } from './measure.ts';

/** A cohort's figures in full, for the health API: the brief figures and what only it shows. */
export function cohortHealthView(c: CohortHealth) {
  return {
    ...cohortFigures(c),
    kind: c.kind,
    path: c.path,
    band: c.band,
    late: c.late,
    withdrawn: c.withdrawn,
    open: c.open,
    skipped: c.skipped,
    latencyMs: c.latency,
    breaches: c.breaches,
  };
}

export function healthView(health: RolloutHealth, guards: Guards) {
  return {
    rollout: health.rollout,
    version: health.version,
    at: iso(health.at),
    window: { seconds: health.windowSeconds, from: iso(health.from), to: iso(health.at) },
    thresholds: guards,
    breached: health.breach !== null,
    breach: health.breach,
    learningNoise: health.learningNoise,
    cohorts: health.cohorts.map(cohortHealthView),
    latencyMs: health.latency,
    replay: health.replay,
  };
}

/** The counters the brief figures carry: all but `skipped`, which only the full view shows. */
const BRIEF = COUNTERS.filter((c) => c !== 'skipped');

/** A cohort's figures in brief: the rollout summary shows them, and a guard.breached audit entry records them. */
export function cohortFigures(c: CohortHealth) {
  const counts = {} as Record<Exclude<Counter, 'skipped'>, number>;
  for (const k of BRIEF) counts[k as Exclude<Counter, 'skipped'>] = c[k];
  return { name: c.name, status: c.status, since: iso(c.since), ...counts, due: c.due, lost: c.lost, rates: c.rates, breached: c.breaches.length > 0 };
}

/** The per-cohort summary that GET /v1/rollouts/:key carries. */
export function healthSummary(health: RolloutHealth) {
  return {
    at: iso(health.at),
    windowSeconds: health.windowSeconds,
    breached: health.breach !== null,
    cohorts: health.cohorts.map(cohortFigures),
    replay: health.replay,
  };
}
