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
import { effectiveShares } from '../rollouts/effective.ts';
import { measureRollout, watchOf, type MeasureOptions, type RolloutHealth } from './measure.ts';
import { measureMany, settleMany, type Settled } from './measure-many.ts';
import { healthStatus, type Health, type HealthStatus } from './status.ts';
import * as store from './store.ts';
import type { DiffEntry } from '../../sdk/wire.ts';
import { fieldsOf } from './fields.ts';
import { rankedFields, splitSample } from './mismatch-view.ts';
import { cohortFigures, healthSummary, healthView } from './view.ts';

/** Charts cover the guard window, at most 30 minutes. */
const MAX_CHART_SECONDS = 1_800;

export function createHealthService(deps: { database: Database; clock: Clock; rollouts: RolloutService }) {
  const { database, clock, rollouts } = deps;
  const db = database.db;

  /** Measured with the rollout's reporters (messages are due only as far as every live one has reported), and judged. */
  async function judged(aggregate: RolloutAggregate, now: number, windowSeconds?: number) {
    const { rollout } = aggregate;
    const rows = await reportersWithin(db, rollout, now);
    const measured = await measureRollout(db, aggregate, { now, windowSeconds, horizon: horizonOf(rows, now) });
    const reporters = reportersView(rows, rollout, now);
    const status = healthStatus({
      rollout,
      cohorts: aggregate.cohorts,
      measured: measured.cohorts,
      watch: watchOf(rollout, now),
      replayPending: measured.replay.lost,
      reportersGone: reporters.degradedReason,
    });
    return { measured, reporters, status };
  }

  /** The full view: figures, statuses and reporters. */
  async function full(aggregate: RolloutAggregate, now: number, windowSeconds?: number) {
    const { measured, reporters, status } = await judged(aggregate, now, windowSeconds);
    return { ...healthView(measured, aggregate.rollout.guards, status), ...reporters };
  }

  return {
    /** The figures of every cohort; `guardsOnly` skips what only the API shows. */
    measure(aggregate: RolloutAggregate, options: Omit<MeasureOptions, 'now'> & { now?: number } = {}): Promise<RolloutHealth> {
      return measureRollout(db, aggregate, { ...options, now: options.now ?? clock.now() });
    },

    /** Guard figures of many rollouts in a few grouped reads (the controller's pass), by rollout id. */
    measureMany(aggregates: RolloutAggregate[], options: { now: number; horizons: Map<number, number>; settled?: Settled }): Promise<Map<number, RolloutHealth>> {
      return measureMany(db, aggregates, options);
    },

    /** When each rollout's messages are due, from its old path's timings (read once per controller pass, before marking lost). */
    settleMany(aggregates: RolloutAggregate[], now: number): Promise<Settled> {
      return settleMany(db, aggregates, now);
    },

    /** GET /v1/rollouts/:key/health (404 when there is no such rollout). */
    async health(key: string, windowSeconds?: number) {
      return full(await rollouts.get(key), clock.now(), windowSeconds);
    },

    /** The per-cohort summary GET /v1/rollouts/:key carries. */
    async summary(aggregate: RolloutAggregate) {
      const { measured, status } = await judged(aggregate, clock.now());
      return healthSummary(measured, status);
    },

    /** The rollout's one status, as the list shows it. */
    async status(aggregate: RolloutAggregate): Promise<Health> {
      return (await judged(aggregate, clock.now())).status.health;
    },

    /** Every rollout's status and effective live share, for /metrics. */
    async statuses(): Promise<{ rollout: string; status: HealthStatus; effectiveLive: number }[]> {
      const out: { rollout: string; status: HealthStatus; effectiveLive: number }[] = [];
      for (let after: string | undefined, rows; (rows = await rollouts.page({ after, limit: 500 })).length > 0; after = rows.at(-1)!.rollout.key) {
        for (const row of rows) {
          const { status } = await judged({ rollout: row.rollout, cohorts: row.cohorts, pins: [] }, clock.now());
          out.push({ rollout: row.rollout.key, status: status.health.status, effectiveLive: effectiveShares(row.rollout, row.cohorts).effectiveLive });
        }
        if (rows.length < 500) break;
      }
      return out;
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
        figures: { cohort: cohortFigures(breached), baseline: baseline === undefined ? null : cohortFigures(baseline), value: breach.value, threshold: breach.threshold, sample: breach.sample, evidence: breach.evidence ?? null },
      };
    },

    /** Mismatch samples, newest first, the fields they differ in over the guard window, and the noise learned (404 when there is no such rollout). */
    async mismatches(key: string, query: { cohort?: string | undefined; before?: number | undefined; limit: number }) {
      const { rollout } = await rollouts.get(key);
      const from = clock.now() - rollout.guards.windowSeconds * 1000;
      const [samples, fields] = await Promise.all([store.listSamples(db, { rolloutId: rollout.id, ...query }), fieldsOf(db, rollout, from, query.cohort)]);
      return { samples, ...fields };
    },

    /** What the dashboard's rollout page shows of health: the view, counts over time, the newest samples. */
    async page(aggregate: RolloutAggregate, now: number) {
      const { rollout } = aggregate;
      const health = await full(aggregate, now);
      // A young rollout's charts span its life (at least a minute), not an empty window before it.
      const spanSeconds = Math.min(rollout.guards.windowSeconds, MAX_CHART_SECONDS, Math.max(60, Math.ceil((now - rollout.createdAt) / 1000)));
      const stepSeconds = Math.max(1, Math.ceil(spanSeconds / store.CHART_STEPS));
      const from = now - spanSeconds * 1000;
      const [series, samples, judged] = await Promise.all([
        store.countsOverTime(db, rollout.id, health.cohorts.map((c) => c.name), from, stepSeconds),
        store.listSamples(db, { rolloutId: rollout.id, limit: 8 }),
        fieldsOf(db, rollout, now - rollout.guards.windowSeconds * 1000),
      ]);
      // Samples show real differences, noise apart; fields are ranked as the mismatches API ranks them.
      const shown = samples.map((s) => ({ ...s, ...splitSample(s.kind, s.diffs as DiffEntry[], judged.quiet) }));
      const fields = { ranked: rankedFields(judged.judged, judged.counts, judged.compared), learning: judged.learning, runs: judged.evidence.runs };
      return { health, from, series, samples: shown, fields, bucketMs: stepSeconds * 1000 };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
