/**
 * What the dashboard shows, read through the domains' services: the rollout
 * as the API shows it, its health, counts over time, the newest lost
 * messages, mismatch samples, the audit trail and the callbacks' deliveries.
 * Every query is bounded and runs on an index (the page stays fast with a
 * million ledger rows).
 */
import { auditView } from '../audit/routes.ts';
import { listAudit } from '../audit/store.ts';
import type { CallbackService } from '../callbacks/service.ts';
import type { Clock } from '../clock.ts';
import type { Executor } from '../db/database.ts';
import type { HealthService } from '../health/service.ts';
import type { LostService } from '../lost/service.ts';
import type { RolloutService } from '../rollouts/service.ts';
import { rolloutSummary, rolloutView } from '../rollouts/view.ts';

const RECENT = 15;

export interface DashboardReadDeps {
  db: Executor;
  clock: Clock;
  rollouts: RolloutService;
  health: HealthService;
  lost: LostService;
  callbacks: CallbackService;
}

export function createDashboardReadModel(deps: DashboardReadDeps) {
  const { db, clock, rollouts, health, lost, callbacks } = deps;
  return {
    async rolloutList() {
      const rows = await rollouts.page({ limit: 200 });
      return Promise.all(
        rows.map(async (row) => {
          const summary = rolloutSummary(row.rollout, row.cohorts, row.pinCount);
          const aggregate = { rollout: row.rollout, cohorts: row.cohorts, pins: [] };
          const [status, [last]] = await Promise.all([health.status(aggregate), listAudit(db, { rolloutKey: row.rollout.key, limit: 1 })]);
          return { summary, health: status, last: last === undefined ? null : auditView(last) };
        }),
      );
    },

    async rolloutPage(key: string) {
      const now = clock.now();
      const aggregate = await rollouts.get(key);
      const { rollout } = aggregate;
      const [figures, recentLost, audit, deliveries] = await Promise.all([
        health.page(aggregate, now),
        lost.recent(rollout.id, RECENT),
        listAudit(db, { rolloutKey: key, limit: 20 }),
        callbacks.recentDeliveries(key, RECENT),
      ]);
      const { health: view, from, series, samples, fields, bucketMs } = figures;
      return { now, from, bucketMs, rollout: rolloutView(aggregate), health: view, series, lost: recentLost, samples, fields, audit: audit.map(auditView), deliveries };
    },
  };
}

export type DashboardReadModel = ReturnType<typeof createDashboardReadModel>;
export type RolloutPageData = Awaited<ReturnType<DashboardReadModel['rolloutPage']>>;
export type RolloutListData = Awaited<ReturnType<DashboardReadModel['rolloutList']>>;
