/**
 * Retention, so the database does not grow without bound at 100,000
 * messages a second. Every sweep, per rollout, scoped by age and with a limit
 * per statement:
 * - settled ledger rows (processed, failed) an hour after they settled;
 * - lost, replayed and late rows after 7 days, and open ones (of a rollout
 *   no longer guarded, so never marked lost) too;
 * - per-second counts older than max(1 h, 2 × grace) rolled up into
 *   per-minute rows; counts after 30 days, latency, samples and mismatch field sets after 7 days;
 * - report batch ids after a day (an SDK does not retry a batch that long);
 * - reporters silent for 7 days (past the longest guard window, so live in none);
 * - finished callback deliveries with their attempts, and messages with no
 *   delivery left, 30 days after they finished;
 * - audit entries after 400 days (a year of history, and some).
 * Each statement removes at most `limit` rows in its own transaction, so
 * ingestion interleaves; a full one is repeated, up to `rounds` times a
 * sweep, for every rule, because at 100,000 messages a second a single
 * 5,000-row statement a minute fell behind and the database grew without
 * end. A sweep that still hits the cap leaves the rest for the next one.
 */
import { sql } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { Database, Transaction } from '../db/database.ts';
import { auditLog, cohortCounts, droppedEvents, latencyCounts, messages, mismatchFieldSets, mismatchSamples, reportBatches, rollouts } from '../db/schema.ts';
import { deleteStaleReporters } from '../reporters/store.ts';
import { ADD_TO_COUNTS, COUNT_COLUMNS, COUNT_SUMS } from './store.ts';
import type { Logger } from '../logger.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface RetentionPolicy {
  settledMs: number;
  ledgerMs: number;
  countsMs: number;
  latencyMs: number;
  samplesMs: number;
  batchesMs: number;
  reportersMs: number;
  callbacksMs: number;
  auditMs: number;
  /** Per-second counts are rolled up into minutes after max(this, 2 × grace). */
  compactAfterMs: number;
  limit: number;
  /** Statements of `limit` rows one rule may run per rollout and sweep. */
  rounds: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  settledMs: HOUR,
  ledgerMs: 7 * DAY,
  countsMs: 30 * DAY,
  latencyMs: 7 * DAY,
  samplesMs: 7 * DAY,
  batchesMs: DAY,
  reportersMs: 7 * DAY,
  callbacksMs: 30 * DAY,
  auditMs: 400 * DAY,
  compactAfterMs: HOUR,
  limit: 5_000,
  rounds: 400,
};

type Removed = Record<'settled' | 'ledger' | 'counts' | 'compacted' | 'latency' | 'samples' | 'batches' | 'reporters' | 'callbacks' | 'audit', number>;

/** Deletes at most `limit` rows of one rollout from `table` matching `condition`. */
async function deleteSome(tx: Transaction, table: typeof messages | typeof cohortCounts | typeof latencyCounts | typeof mismatchSamples | typeof mismatchFieldSets | typeof droppedEvents, rolloutId: number, condition: ReturnType<typeof sql>, limit: number): Promise<number> {
  const result = await tx.run(
    sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${table.rolloutId} = ${rolloutId} AND ${condition} LIMIT ${limit})`,
  );
  return result.rowsAffected;
}

/** Rolls up to `limit` per-second rows of one rollout older than `before` (unix s) into per-minute rows. */
async function compactCounts(tx: Transaction, rolloutId: number, before: number, limit: number): Promise<number> {
  const picked = await tx.all<{ id: number }>(
    sql`SELECT rowid AS id FROM ${cohortCounts} WHERE ${cohortCounts.rolloutId} = ${rolloutId} AND ${cohortCounts.bucket} < ${before} AND ${cohortCounts.bucket} % 60 != 0 LIMIT ${limit}`,
  );
  if (picked.length === 0) return 0;
  const ids = sql.join(
    picked.map((r) => sql`${r.id}`),
    sql`, `,
  );
  await tx.run(sql`INSERT INTO ${cohortCounts} (${sql.raw(COUNT_COLUMNS)})
    SELECT rollout_id, cohort, path, bucket - bucket % 60, ${sql.raw(COUNT_SUMS)}
    FROM ${cohortCounts} WHERE rowid IN (${ids}) GROUP BY rollout_id, cohort, path, bucket - bucket % 60
    ${sql.raw(ADD_TO_COUNTS)}`);
  const removed = await tx.run(sql`DELETE FROM ${cohortCounts} WHERE rowid IN (${ids})`);
  return removed.rowsAffected;
}

export interface RetentionDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  policy?: Partial<RetentionPolicy>;
  /** Removes finished callback deliveries before a time, at most `limit` (the callbacks' own rule). */
  pruneCallbacks?(before: number, limit: number): Promise<number>;
}

export function createRetention(deps: RetentionDeps) {
  const { database, clock, logger } = deps;
  const policy = { ...DEFAULT_RETENTION, ...deps.policy };
  let timer: NodeJS.Timeout | null = null;

  /** Runs one rule's step (at most `limit` rows, its own transaction) again while it removes a full `limit`. */
  async function rounds(step: () => Promise<number>): Promise<number> {
    let total = 0;
    for (let round = 0; round < policy.rounds; round++) {
      const n = await step();
      total += n;
      if (n < policy.limit) break;
    }
    return total;
  }

  /** `rounds` of one statement, each in its own write transaction. */
  const repeat = (statement: (tx: Transaction) => Promise<number>) => rounds(() => database.write(statement));

  async function sweepRollout(rolloutId: number, graceSeconds: number, now: number, removed: Removed): Promise<void> {
    const { limit } = policy;
    removed.settled += await repeat((tx) => deleteSome(tx, messages, rolloutId, sql`${messages.status} IN ('processed', 'failed') AND ${messages.settledAt} < ${now - policy.settledMs}`, limit));
    // Open rows are marked lost by the controller while a rollout is guarded; one that ended
    // (completed, reverted) with messages still open would otherwise keep them for ever.
    removed.ledger += await repeat((tx) => deleteSome(tx, messages, rolloutId, sql`${messages.status} IN ('open', 'lost', 'replayed', 'late') AND ${messages.receivedAt} < ${now - policy.ledgerMs}`, limit));
    const compactBefore = Math.floor((now - Math.max(policy.compactAfterMs, 2 * graceSeconds * 1000)) / 1000);
    removed.compacted += await repeat((tx) => compactCounts(tx, rolloutId, compactBefore, limit));
    removed.counts += await repeat((tx) => deleteSome(tx, cohortCounts, rolloutId, sql`${cohortCounts.bucket} < ${Math.floor((now - policy.countsMs) / 1000)}`, limit));
    removed.latency += await repeat((tx) => deleteSome(tx, latencyCounts, rolloutId, sql`${latencyCounts.bucket} < ${Math.floor((now - policy.latencyMs) / 1000)}`, limit));
    removed.samples += await repeat((tx) => deleteSome(tx, mismatchSamples, rolloutId, sql`${mismatchSamples.at} < ${now - policy.samplesMs}`, limit));
    // Field sets, like samples, outlive the longest guard window (7 days) and no more.
    removed.samples += await repeat((tx) => deleteSome(tx, mismatchFieldSets, rolloutId, sql`${mismatchFieldSets.bucket} < ${Math.floor((now - policy.samplesMs) / 1000)}`, limit));
    // Drops by reason are kept as long as the counts they explain.
    removed.counts += await repeat((tx) => deleteSome(tx, droppedEvents, rolloutId, sql`${droppedEvents.bucket} < ${Math.floor((now - policy.countsMs) / 1000)}`, limit));
  }

  return {
    policy,
    /** One sweep over every rollout. Returns how many rows each rule removed (or rolled up). */
    async sweep(): Promise<Removed> {
      const now = clock.now();
      const removed: Removed = { settled: 0, ledger: 0, counts: 0, compacted: 0, latency: 0, samples: 0, batches: 0, reporters: 0, callbacks: 0, audit: 0 };
      const all = await database.db.select({ id: rollouts.id, guards: rollouts.guards }).from(rollouts);
      for (const rollout of all) await sweepRollout(rollout.id, rollout.guards.graceSeconds, now, removed);
      const olderThan = async (tx: Transaction, table: typeof reportBatches | typeof auditLog, at: typeof reportBatches.receivedAt | typeof auditLog.at, before: number) =>
        (await tx.run(sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${at} < ${before} LIMIT ${policy.limit})`)).rowsAffected;
      removed.batches = await repeat((tx) => olderThan(tx, reportBatches, reportBatches.receivedAt, now - policy.batchesMs));
      removed.reporters = await repeat((tx) => deleteStaleReporters(tx, now - policy.reportersMs, policy.limit));
      const prune = deps.pruneCallbacks;
      removed.callbacks = prune === undefined ? 0 : await rounds(() => prune(now - policy.callbacksMs, policy.limit));
      removed.audit = await repeat((tx) => olderThan(tx, auditLog, auditLog.at, now - policy.auditMs));
      return removed;
    },
    start(intervalMs = 60_000): void {
      let sweeping = false;
      timer = setInterval(() => {
        // A long sweep (a backlog after downtime) is not joined by a second one.
        if (sweeping) return;
        sweeping = true;
        this.sweep()
          .catch((error: unknown) => logger.warn('retention sweep failed', { error: String(error) }))
          .finally(() => (sweeping = false));
      }, intervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
