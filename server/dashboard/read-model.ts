/**
 * What the dashboard shows, read through the domains' services: the rollout
 * as the API shows it, its health, counts over time, the newest lost
 * messages, mismatch samples, the audit trail and the callbacks' deliveries.
 * Every query is bounded and runs on an index (the page stays fast with a
 * million ledger rows).
 */
import type { AuditService } from '../audit/service.ts';
import type { CallbackService } from '../callbacks/service.ts';
import type { Clock } from '../clock.ts';
import type { Executor } from '../db/database.ts';
import type { HealthService } from '../health/service.ts';
import type { LostService } from '../lost/service.ts';
import type { RolloutService } from '../rollouts/service.ts';
import { rolloutSummary, rolloutView } from '../rollouts/view.ts';
import { agreeing, RATE_NAMES, ratesOverTime, type RateName, type RateSeries } from './rates.ts';
import { chartSteps, readBuckets, type Bucket } from './series-read.ts';

const RECENT = 15;
/** A chart spans the judged window, and at least this (a step entered seconds ago). */
const MIN_CHART_MS = 10_000;

type PageHealth = Awaited<ReturnType<HealthService['page']>>;

/** One cohort's charts: its counts per bucket and its rates over time, each ending on the table's figure. */
export interface CohortCharts {
  name: string;
  kind: string;
  counts: Bucket[];
  rates: Record<RateName, RateSeries>;
}

/** The charts of the page, over the window health judged. */
async function chartsOf(db: Executor, rolloutId: number, page: PageHealth) {
  const { health, window, quiet } = page;
  // On a whole second, where the first bucket starts (the buckets are summed by second).
  const from = Math.floor(Math.min(window.from, window.at - MIN_CHART_MS) / 1000) * 1000;
  const { stepSeconds, buckets } = chartSteps(from, window.at);
  const cohorts = health.cohorts.map((c) => ({ name: c.name, path: c.path, since: window.since.get(c.name) ?? window.from }));
  const read = await readBuckets(db, { rolloutId, from, stepSeconds, buckets, dueBefore: window.dueBefore, quiet, cohorts });
  const span = { stepMs: stepSeconds * 1000, at: window.at, dueBefore: window.dueBefore };
  const baseline = read.get('baseline');
  const charts: CohortCharts[] = health.cohorts.map((c) => {
    const own = read.get(c.name)!;
    const over = ratesOverTime(own, c.kind === 'baseline' ? undefined : baseline, span);
    const rates = Object.fromEntries(RATE_NAMES.map((r) => [r, agreeing(over[r], c.rates[r], r === 'loss' ? window.dueBefore : window.at)])) as Record<RateName, RateSeries>;
    return { name: c.name, kind: c.kind, counts: own.slice(1), rates };
  });
  return { from, to: window.at, dueBefore: window.dueBefore, bucketMs: stepSeconds * 1000, cohorts: charts };
}

export interface DashboardReadDeps {
  db: Executor;
  clock: Clock;
  rollouts: RolloutService;
  health: HealthService;
  lost: LostService;
  callbacks: CallbackService;
  audit: AuditService;
}

export function createDashboardReadModel(deps: DashboardReadDeps) {
  const { db, clock, rollouts, health, lost, callbacks, audit } = deps;
  return {
    async rolloutList() {
      const rows = await rollouts.page({ limit: 200 });
      return Promise.all(
        rows.map(async (row) => {
          const summary = rolloutSummary(row.rollout, row.cohorts, row.pinCount);
          const aggregate = { rollout: row.rollout, cohorts: row.cohorts, pins: [] };
          const [status, [last]] = await Promise.all([health.status(aggregate), audit.recent(row.rollout.key, 1)]);
          return { summary, health: status, last: last ?? null };
        }),
      );
    },

    async rolloutPage(key: string) {
      const now = clock.now();
      const aggregate = await rollouts.get(key);
      const { rollout } = aggregate;
      const [page, recentLost, entries, deliveries] = await Promise.all([
        health.page(aggregate, now),
        lost.recent(rollout.id, RECENT),
        audit.recent(key, 20),
        callbacks.recentDeliveries(key, RECENT),
      ]);
      const charts = await chartsOf(db, rollout.id, page);
      const { health: view, samples, fields } = page;
      return { now, charts, rollout: rolloutView(aggregate), health: view, lost: recentLost, samples, fields, audit: entries, deliveries };
    },
  };
}

export type DashboardReadModel = ReturnType<typeof createDashboardReadModel>;
export type RolloutPageData = Awaited<ReturnType<DashboardReadModel['rolloutPage']>>;
export type RolloutListData = Awaited<ReturnType<DashboardReadModel['rolloutList']>>;
