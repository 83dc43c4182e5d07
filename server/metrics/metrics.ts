/**
 * Prometheus metrics through prom-client, in a registry of this app's own.
 * Counters are this server's: what its ingester committed and what its
 * controller found lost (sum them over servers in PromQL). Gauges are read
 * from the database at each scrape. Labels are rollout keys and cohort names
 * only, never partner or message ids; a rollout's cohort labels are capped
 * at 64 (more fold into `other`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChangeFeed } from '../changes.ts';
import type { JudgedCohort, RateName } from '../health/view.ts';
import { HEALTH_STATUSES, type HealthStatus } from '../health/status.ts';
import { stepShares, type Rollout } from '../rollouts/model.ts';
import type { CohortTally } from '../reports/ingester.ts';
import type { SweepReport } from '../reports/retention.ts';
import { COUNTERS, ROLLOUT_STATES, type Counter as CounterName } from '@rollcall/protocol';

const COHORT_LABELS_PER_ROLLOUT = 64;
/** Every counter is a metric but `skipped` (a comparison not run says nothing of either path). */
const COUNTED = COUNTERS.filter((c) => c !== 'skipped');
const HELP: Partial<Record<CounterName, string>> = {
  received: 'Messages received, as reported by SDKs and committed here',
  processed: 'Messages processed, as reported by SDKs and committed here',
  failed: 'Messages failed, as reported by SDKs and committed here',
  compared: 'Shadow or verify comparisons run',
  mismatched: 'Comparisons whose outputs differed, as SDKs reported them: learned noise included (health withdraws it later); alert on rollcall_cohort_judged_ratio{guard="mismatch"}, not on this',
  dropped: 'Events an SDK dropped (refused reports, a full buffer or send queue): the accounting is incomplete',
};

export interface RolloutStatusFigures {
  rollout: string;
  status: HealthStatus;
  effectiveLive: number;
  /** The rollout as the share gauges need it. */
  row: Pick<Rollout, 'key' | 'state' | 'plan' | 'step'>;
  /** What health judged of each cohort over its window, and the tolerances (absent: no gauges of them). */
  cohorts?: JudgedCohort[];
  tolerances?: Record<RateName, number>;
}

/** The guards' names for the rates health judges (`failure` is the failure rate over the baseline's). */
const GUARD_OF: Record<RateName, string> = { loss: 'loss', failureDelta: 'failure', mismatch: 'mismatch' };

/** `statuses`: every rollout with its health status and effective live share, read at each scrape (once: the share gauges take their rows from it). */
export function createMetrics(deps: { changes: ChangeFeed; streams: () => number; statuses: () => Promise<RolloutStatusFigures[]>; storageAvailable?: () => boolean; leading?: () => boolean }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const perCohort = (what: string, help: string) => new Counter({ name: `rollcall_${what}_total`, help, labelNames: ['rollout', 'cohort'] as const, registers: [registry] });
  const counters = new Map(COUNTED.map((c) => [c, perCohort(c, HELP[c] ?? `${c} events, as reported by SDKs and committed here`)]));
  const lost = perCohort('lost', "Messages this server's controller found lost (due with no terminal report)");
  const reverts = new Counter({ name: 'rollcall_reverts_total', help: 'Reverts made through this server', labelNames: ['rollout', 'scope', 'trigger'] as const, registers: [registry] });
  const storageErrors = new Counter({ name: 'rollcall_storage_errors_total', help: 'Storage faults met by this server (disk full, lock timeouts, I/O errors, an unreachable libsql server), by operation', labelNames: ['operation', 'fault'] as const, registers: [registry] });
  const callbackAttempts = new Counter({ name: 'rollcall_callback_attempts_total', help: 'Callback attempts by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const ingestSeconds = new Histogram({
    name: 'rollcall_ingest_batch_seconds',
    help: 'Seconds from a report batch arriving to its commit',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const groupBatches = new Histogram({
    name: 'rollcall_report_group_batches',
    help: 'Report batches committed together, per commit (group commit: batches arriving while a commit runs share the next)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const ingestMax = new Gauge({
    name: 'rollcall_ingest_batch_max_seconds',
    help: 'The longest a report batch has waited from arrival to commit since this server started, apart while retention swept (housekeeping must not stall ingest)',
    labelNames: ['during'] as const,
    registers: [registry],
  });
  const longest = { retention: 0, otherwise: 0 };
  for (const during of ['retention', 'otherwise'] as const) ingestMax.set({ during }, 0);
  const sweepSeconds = new Histogram({ name: 'rollcall_retention_sweep_seconds', help: 'Seconds one retention sweep took, pauses between its statements included', buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300], registers: [registry] });
  const sweepStatementMax = new Gauge({ name: 'rollcall_retention_statement_max_seconds', help: 'The longest one retention statement has held the write lock since this server started', registers: [registry] });
  let longestStatement = 0;
  const sweptRows = new Counter({ name: 'rollcall_retention_rows_total', help: 'Rows retention removed (or rolled up), by rule', labelNames: ['rule'] as const, registers: [registry] });
  const tickSeconds = new Histogram({ name: 'rollcall_controller_tick_seconds', help: 'Seconds one controller pass over every rollout took', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
  const liveBp = new Gauge({ name: 'rollcall_rollout_live_basis_points', help: 'Live share of the current step, in basis points', labelNames: ['rollout'] as const, registers: [registry] });
  const shadowBp = new Gauge({ name: 'rollcall_rollout_shadow_basis_points', help: 'Shadow share of the current step, in basis points', labelNames: ['rollout'] as const, registers: [registry] });
  const effectiveLiveBp = new Gauge({ name: 'rollcall_rollout_effective_live_basis_points', help: 'Share of the key space really on the new path (reverted cohorts excluded), in basis points', labelNames: ['rollout'] as const, registers: [registry] });
  const health = new Gauge({ name: 'rollcall_rollout_health', help: '1 for the health status each rollout has (healthy, breached, reverted, degraded, idle), 0 for the others', labelNames: ['rollout', 'status'] as const, registers: [registry] });
  // What health judged over its window, so that an alert says what the health API and the dashboard say.
  const judgedRatio = new Gauge({ name: 'rollcall_cohort_judged_ratio', help: "The rates health judges over the guard window: loss (lost of due), failure (failure rate over the baseline's), mismatch (net of mismatches withdrawn as noise); absent without a denominator", labelNames: ['rollout', 'cohort', 'guard'] as const, registers: [registry] });
  const toleranceRatio = new Gauge({ name: 'rollcall_guard_tolerance_ratio', help: 'Each rate guard\'s tolerance (maxLossRate, maxFailureRateDelta, maxMismatchRate)', labelNames: ['rollout', 'guard'] as const, registers: [registry] });
  const judgedCompared = new Gauge({ name: 'rollcall_cohort_judged_compared', help: 'Comparisons in the window health judges', labelNames: ['rollout', 'cohort'] as const, registers: [registry] });
  const judgedMismatched = new Gauge({ name: 'rollcall_cohort_judged_mismatched', help: 'Mismatches in the window health judges, net of those withdrawn as noise: what the mismatch guard counts', labelNames: ['rollout', 'cohort'] as const, registers: [registry] });
  const judgedWithdrawn = new Gauge({ name: 'rollcall_cohort_judged_withdrawn', help: 'Mismatches in the window health judges withdrawn because every field they differ in is learned noise or ignored', labelNames: ['rollout', 'cohort'] as const, registers: [registry] });
  const state = new Gauge({ name: 'rollcall_rollout_state', help: '1 for the state each rollout is in, 0 for the others', labelNames: ['rollout', 'state'] as const, registers: [registry] });
  new Gauge({
    name: 'rollcall_sdk_streams',
    help: 'SDK streams connected to this server',
    registers: [registry],
    collect() {
      this.set(deps.streams());
    },
  });

  new Gauge({
    name: 'rollcall_storage_available',
    help: '1 while this server can commit its work (report batches, decisions), 0 during a storage outage (what /readyz says)',
    registers: [registry],
    collect() {
      this.set(deps.storageAvailable?.() === false ? 0 : 1);
    },
  });
  const reportersGone = new Counter({ name: 'rollcall_reporters_gone_total', help: 'SDK instances this server declared gone (silent past reporterTimeoutSeconds): their messages are judged without them', labelNames: ['rollout'] as const, registers: [registry] });
  new Gauge({
    name: 'rollcall_controller_leading',
    help: '1 while this server runs the controller passes (it holds the controller lease), 0 while another server does',
    registers: [registry],
    collect() {
      this.set(deps.leading?.() === false ? 0 : 1);
    },
  });

  const cohortLabels = new Map<string, Set<string>>();
  function cohortLabel(rollout: string, cohort: string): string {
    let seen = cohortLabels.get(rollout);
    if (seen === undefined) cohortLabels.set(rollout, (seen = new Set()));
    if (seen.has(cohort)) return cohort;
    if (seen.size >= COHORT_LABELS_PER_ROLLOUT) return 'other';
    seen.add(cohort);
    return cohort;
  }

  deps.changes.subscribe((change) => {
    if (change.event === 'cohort.reverted' || change.event === 'rollout.reverted') {
      reverts.inc({ rollout: change.rolloutKey, scope: change.event === 'cohort.reverted' ? 'cohort' : 'rollout', trigger: change.actor === 'controller' ? 'guard' : 'manual' });
    }
  });

  /** The gauges read from the database, refreshed before each scrape. */
  async function refreshRollouts(): Promise<void> {
    // The status board (health's read model) carries every rollout: the metrics read no table of their own.
    const statuses = await deps.statuses();
    const rows = statuses.map((s) => s.row);
    liveBp.reset();
    shadowBp.reset();
    state.reset();
    for (const row of rows) {
      const shares = stepShares(row);
      const live = row.state === 'completed' ? 10_000 : row.state === 'draft' || row.state === 'reverted' ? 0 : Math.round((shares.live ?? 0) * 100);
      liveBp.set({ rollout: row.key }, live);
      shadowBp.set({ rollout: row.key }, row.state === 'running' || row.state === 'paused' ? Math.round(Math.max(shares.shadow ?? 0, shares.live ?? 0) * 100) - live : 0);
      for (const s of ROLLOUT_STATES) state.set({ rollout: row.key, state: s }, s === row.state ? 1 : 0);
    }
    effectiveLiveBp.reset();
    health.reset();
    for (const row of statuses) {
      effectiveLiveBp.set({ rollout: row.rollout }, Math.round(row.effectiveLive * 100));
      for (const s of HEALTH_STATUSES) health.set({ rollout: row.rollout, status: s }, s === row.status ? 1 : 0);
    }
    setJudged(statuses);
  }

  /** The judged gauges: set afresh at each scrape (a cohort past the label cap is left out: its rates do not fold). */
  function setJudged(statuses: RolloutStatusFigures[]): void {
    for (const gauge of [judgedRatio, toleranceRatio, judgedCompared, judgedMismatched, judgedWithdrawn]) gauge.reset();
    for (const row of statuses) {
      for (const [rate, guard] of Object.entries(GUARD_OF) as [RateName, string][]) if (row.tolerances !== undefined) toleranceRatio.set({ rollout: row.rollout, guard }, row.tolerances[rate]);
      for (const c of row.cohorts ?? []) {
        if (cohortLabel(row.rollout, c.name) !== c.name) continue;
        const labels = { rollout: row.rollout, cohort: c.name };
        for (const [rate, guard] of Object.entries(GUARD_OF) as [RateName, string][]) {
          const value = c.rates[rate];
          if (value !== null) judgedRatio.set({ ...labels, guard }, value);
        }
        judgedCompared.set(labels, c.compared);
        judgedMismatched.set(labels, c.mismatched);
        judgedWithdrawn.set(labels, c.withdrawn);
      }
    }
  }

  return {
    countReports(tallies: CohortTally[]): void {
      for (const tally of tallies) {
        const labels = { rollout: tally.rollout, cohort: cohortLabel(tally.rollout, tally.cohort) };
        for (const [what, counter] of counters) if (tally[what] > 0) counter.inc(labels, tally[what]);
      }
    },
    countLost(rollout: string, messages: { cohort: string }[]): void {
      for (const m of messages) lost.inc({ rollout, cohort: cohortLabel(rollout, m.cohort) });
    },
    /** A report batch committed `seconds` after it arrived; `duringRetention` when a sweep was under way. */
    observeIngest(seconds: number, duringRetention = false): void {
      ingestSeconds.observe(seconds);
      const during = duringRetention ? 'retention' : 'otherwise';
      if (seconds > longest[during]) ingestMax.set({ during }, (longest[during] = seconds));
    },
    observeSweep(sweep: SweepReport): void {
      if (sweep.kind === 'sweep') sweepSeconds.observe(sweep.ms / 1000);
      if (sweep.longestStatementMs > longestStatement) sweepStatementMax.set((longestStatement = sweep.longestStatementMs) / 1000);
      for (const [rule, rows] of Object.entries(sweep.removed)) if (rows > 0) sweptRows.inc({ rule }, rows);
    },
    observeGroup: (batches: number) => groupBatches.observe(batches),
    observeTick: (ms: number) => tickSeconds.observe(ms / 1000),
    countCallbackAttempt: (outcome: string) => callbackAttempts.inc({ outcome }),
    countReporterGone: (rollout: string) => reportersGone.inc({ rollout }),
    countStorageError: (operation: string, fault: string) => storageErrors.inc({ operation, fault }),
    /** The registry's text. While storage fails the rollout gauges keep their last values and the rest (storage errors among them) is still served. */
    async render(onRefreshError?: (error: unknown) => void): Promise<{ contentType: string; body: string }> {
      await refreshRollouts().catch((error: unknown) => {
        if (onRefreshError === undefined) throw error;
        onRefreshError(error);
      });
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
