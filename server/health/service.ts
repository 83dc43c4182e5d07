/**
 * Cohort health against the guards: what the API and the dashboard show, and
 * what the controller acts on. Reads only; decisions are the rollouts'.
 */
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import type { BreachReport } from '../rollouts/breach.ts';
import type { RolloutService } from '../rollouts/service.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import { horizonOf, reportersView, reportersWithin } from '../reporters/watch.ts';
import { measureRollout, type MeasureOptions, type RolloutHealth } from './measure.ts';
import { measureMany } from './measure-many.ts';
import * as store from './store.ts';
import { cohortFigures, healthSummary, healthView } from './view.ts';

/** Charts cover the guard window, at most 30 minutes. */
const MAX_CHART_SECONDS = 1_800;

export function createHealthService(deps: { database: Database; clock: Clock; rollouts: RolloutService }) {
  const { database, clock, rollouts } = deps;
  const db = database.db;

  /** The full view, with the rollout's reporters: messages are due only as far as every live one has reported. */
  async function full(aggregate: RolloutAggregate, now: number, windowSeconds?: number) {
    const rows = await reportersWithin(db, aggregate.rollout, now);
    const measured = await measureRollout(db, aggregate, { now, windowSeconds, horizon: horizonOf(rows, now) });
    return { ...healthView(measured, aggregate.rollout.guards), ...reportersView(rows, aggregate.rollout, now) };
  }

  return {
    /** The figures of every cohort; `guardsOnly` skips what only the API shows. */
    measure(aggregate: RolloutAggregate, options: Omit<MeasureOptions, 'now'> & { now?: number } = {}): Promise<RolloutHealth> {
      return measureRollout(db, aggregate, { ...options, now: options.now ?? clock.now() });
    },

    /** Guard figures of many rollouts in a few grouped reads (the controller's pass), by rollout id. */
    measureMany(aggregates: RolloutAggregate[], options: { now: number; horizons: Map<number, number> }): Promise<Map<number, RolloutHealth>> {
      return measureMany(db, aggregates, options);
    },

    /** GET /v1/rollouts/:key/health (404 when there is no such rollout). */
    async health(key: string, windowSeconds?: number) {
      return full(await rollouts.get(key), clock.now(), windowSeconds);
    },

    /** The per-cohort summary GET /v1/rollouts/:key carries. */
    async summary(aggregate: RolloutAggregate) {
      return healthSummary(await measureRollout(db, aggregate, { now: clock.now() }));
    },

    /** The first breach of a guarded cohort, as the rollouts' rules take it: the guard, its figures and the cohort. */
    breachOf(health: RolloutHealth): BreachReport | null {
      const breached = health.cohorts.find((c) => c.breaches.length > 0);
      if (breached === undefined) return null;
      const breach = breached.breaches[0]!;
      const baseline = health.cohorts.find((c) => c.kind === 'baseline');
      return {
        cohort: breach.cohort,
        kind: breached.kind === 'shadow' ? 'shadow' : 'band',
        guard: breach.guard,
        reason: `guard ${breach.guard} breached in ${breach.cohort}: ${breach.reason}`,
        figures: { cohort: cohortFigures(breached), baseline: baseline === undefined ? null : cohortFigures(baseline), value: breach.value, threshold: breach.threshold, sample: breach.sample },
      };
    },

    /** Mismatch samples, newest first, and the fields learned as noise (404 when there is no such rollout). */
    async mismatches(key: string, query: { cohort?: string | undefined; before?: number | undefined; limit: number }) {
      const { rollout } = await rollouts.get(key);
      const samples = await store.listSamples(db, { rolloutId: rollout.id, ...query });
      return { samples, noise: await store.listNoise(db, rollout.id) };
    },

    /** What the dashboard's rollout page shows of health: the view, counts over time, the newest samples. */
    async page(aggregate: RolloutAggregate, now: number) {
      const { rollout } = aggregate;
      const health = await full(aggregate, now);
      const spanSeconds = Math.min(rollout.guards.windowSeconds, MAX_CHART_SECONDS);
      const stepSeconds = Math.max(1, Math.ceil(spanSeconds / store.CHART_STEPS));
      const from = now - spanSeconds * 1000;
      const [series, samples] = await Promise.all([
        store.countsOverTime(db, rollout.id, health.cohorts.map((c) => c.name), from, stepSeconds),
        store.listSamples(db, { rolloutId: rollout.id, limit: 8 }),
      ]);
      return { health, from, series, samples };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
