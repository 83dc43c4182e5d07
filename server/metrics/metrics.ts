/**
 * Prometheus metrics through prom-client, in a registry of this app's own.
 * Counters are this server's: what its ingester committed and what its
 * controller found lost (sum them over servers in PromQL). Gauges are read
 * from the database at each scrape. Labels are rollout keys and cohort names
 * only, never partner or message ids; a rollout's cohort labels are capped
 * at 64 (more fold into `other`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createBoardText, type RolloutStatusFigures } from './board-text.ts';
import type { ChangeFeed } from '../changes.ts';
import type { CohortTally } from '../reports/ingester.ts';
import type { SweepReport } from '../reports/retention.ts';
import { COUNTERS, type Counter as CounterName } from '@rollcall/protocol';

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

  /** The gauges read from the status board (health's read model): every rollout's, written by board-text.ts. */
  const board = createBoardText(cohortLabel);

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
      // The board carries every rollout: the metrics read no table of their own.
      const boardText = await deps.statuses().then(
        (statuses) => board.render(statuses),
        (error: unknown) => {
          if (onRefreshError === undefined) throw error;
          onRefreshError(error);
          return board.last();
        },
      );
      return { contentType: registry.contentType, body: `${await registry.metrics()}\n${boardText}` };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
