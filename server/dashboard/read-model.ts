/**
 * What the dashboard shows, read in one place: the rollout as the API shows
 * it, its health, counts over time, the newest lost messages, mismatch
 * samples, the audit trail and the callbacks' deliveries. Every query is
 * bounded and runs on an index (the page stays fast with a million ledger rows).
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { measureRollout } from '../accounting/health.ts';
import { healthView } from '../accounting/health-view.ts';
import { listSamples } from '../accounting/store.ts';
import { auditView } from '../audit/routes.ts';
import { listAudit } from '../audit/store.ts';
import type { Clock } from '../clock.ts';
import type { Executor } from '../db/database.ts';
import { callbackDeliveries, callbackMessages, callbacks, cohortCounts, messages } from '../db/schema.ts';
import { notFound } from '../errors.ts';
import { loadAggregate } from '../rollouts/store.ts';
import { rolloutSummary, rolloutView } from '../rollouts/view.ts';
import { listRollouts } from '../rollouts/store.ts';

/** Charts cover the guard window, at most 30 minutes, in 60 steps. */
const MAX_CHART_SECONDS = 1_800;
const CHART_STEPS = 60;
const RECENT = 15;

export interface CohortSeries {
  cohort: string;
  /** Per step: [step start ms, received, processed, failed, compared, mismatched]. */
  steps: [number, number, number, number, number, number][];
}

async function countsOverTime(db: Executor, rolloutId: number, cohorts: string[], from: number, stepSeconds: number): Promise<CohortSeries[]> {
  const fromBucket = Math.floor(from / 1000);
  const rows = await db
    .select({
      cohort: cohortCounts.cohort,
      t: sql<number>`${cohortCounts.bucket} - ${cohortCounts.bucket} % ${stepSeconds}`,
      received: sql<number>`sum(${cohortCounts.received})`,
      processed: sql<number>`sum(${cohortCounts.processed})`,
      failed: sql<number>`sum(${cohortCounts.failed})`,
      compared: sql<number>`sum(${cohortCounts.compared})`,
      mismatched: sql<number>`sum(${cohortCounts.mismatched})`,
    })
    .from(cohortCounts)
    .where(and(eq(cohortCounts.rolloutId, rolloutId), inArray(cohortCounts.cohort, cohorts), inArray(cohortCounts.path, ['old', 'new', 'shadow']), sql`${cohortCounts.bucket} >= ${fromBucket}`))
    .groupBy(cohortCounts.cohort, sql`2`);
  const byCohort = new Map<string, Map<number, CohortSeries['steps'][number]>>();
  for (const r of rows) {
    const steps = byCohort.get(r.cohort) ?? new Map();
    steps.set(Number(r.t) * 1000, [Number(r.t) * 1000, Number(r.received), Number(r.processed), Number(r.failed), Number(r.compared), Number(r.mismatched)]);
    byCohort.set(r.cohort, steps);
  }
  const first = fromBucket - (fromBucket % stepSeconds);
  return [...byCohort].map(([cohort, steps]) => ({
    cohort,
    steps: Array.from({ length: CHART_STEPS + 1 }, (_, i) => {
      const t = (first + i * stepSeconds) * 1000;
      return steps.get(t) ?? [t, 0, 0, 0, 0, 0];
    }),
  }));
}

/** The newest lost, late and replayed messages: one index-ordered query per status. */
async function recentLedger(db: Executor, rolloutId: number) {
  const per = await Promise.all(
    (['lost', 'late', 'replayed'] as const).map((status) =>
      db
        .select({ messageId: messages.messageId, partnerId: messages.partnerId, cohort: messages.cohort, path: messages.path, status: messages.status, receivedAt: messages.receivedAt, replayAttempts: messages.replayAttempts })
        .from(messages)
        .where(and(eq(messages.rolloutId, rolloutId), eq(messages.status, status)))
        .orderBy(desc(messages.receivedAt))
        .limit(RECENT),
    ),
  );
  return per
    .flat()
    .sort((a, b) => (b.receivedAt ?? 0) - (a.receivedAt ?? 0))
    .slice(0, RECENT);
}

/** The subscriptions that hear of this rollout, and its newest deliveries. */
async function callbackStatus(db: Executor, rolloutKey: string) {
  const deliveries = await db
    .select({ id: callbackDeliveries.id, type: callbackMessages.type, at: callbackMessages.createdAt, status: callbackDeliveries.status, attempts: callbackDeliveries.attempts, lastStatus: callbackDeliveries.lastStatus, lastError: callbackDeliveries.lastError, nextAttemptAt: callbackDeliveries.nextAttemptAt, url: callbacks.url })
    .from(callbackMessages)
    .innerJoin(callbackDeliveries, eq(callbackDeliveries.messageId, callbackMessages.id))
    .innerJoin(callbacks, eq(callbacks.id, callbackDeliveries.callbackId))
    .where(eq(callbackMessages.rolloutKey, rolloutKey))
    .orderBy(desc(callbackMessages.createdAt))
    .limit(RECENT);
  return deliveries;
}

export function createDashboardReadModel(deps: { db: Executor; clock: Clock }) {
  const { db, clock } = deps;
  return {
    async rolloutList() {
      const now = clock.now();
      const rows = await listRollouts(db, { limit: 200 });
      return Promise.all(
        rows.map(async (row) => {
          const summary = rolloutSummary(row.rollout, row.cohorts, row.pinCount);
          const aggregate = { rollout: row.rollout, cohorts: row.cohorts, pins: [] };
          const guarded = row.rollout.state === 'running' || row.rollout.state === 'paused';
          const health = guarded ? await measureRollout(db, aggregate, { now, guardsOnly: true }) : null;
          const [last] = await listAudit(db, { rolloutKey: row.rollout.key, limit: 1 });
          return { summary, breach: health?.breach ?? null, measured: health !== null, last: last === undefined ? null : auditView(last) };
        }),
      );
    },

    async rolloutPage(key: string) {
      const now = clock.now();
      const aggregate = await loadAggregate(db, key);
      if (aggregate === undefined) throw notFound('rollout', key);
      const { rollout } = aggregate;
      const health = healthView(await measureRollout(db, aggregate, { now }), rollout.guards);
      const spanSeconds = Math.min(rollout.guards.windowSeconds, MAX_CHART_SECONDS);
      const stepSeconds = Math.max(1, Math.ceil(spanSeconds / CHART_STEPS));
      const from = now - spanSeconds * 1000;
      const cohortNames = health.cohorts.map((c) => c.name);
      const [series, lost, samples, audit, deliveries] = await Promise.all([
        countsOverTime(db, rollout.id, cohortNames, from, stepSeconds),
        recentLedger(db, rollout.id),
        listSamples(db, { rolloutId: rollout.id, limit: 8 }),
        listAudit(db, { rolloutKey: key, limit: 20 }),
        callbackStatus(db, key),
      ]);
      return { now, from, rollout: rolloutView(aggregate), health, series, lost, samples, audit: audit.map(auditView), deliveries };
    },
  };
}

export type DashboardReadModel = ReturnType<typeof createDashboardReadModel>;
export type RolloutPageData = Awaited<ReturnType<DashboardReadModel['rolloutPage']>>;
export type RolloutListData = Awaited<ReturnType<DashboardReadModel['rolloutList']>>;
