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
 *
 * Housekeeping never stalls ingest (pacing.ts): slices are small and paced
 * to hold the write lock at most `writeShare` of the time. Settled ids, the
 * one rule that grows with traffic (a tenth of the soak's 50,000 messages a
 * second travel by id), are also deleted every `settledIntervalMs` as they
 * come due, on ingest's own connection, rather than a minute's worth at
 * once; when they fall behind (the oldest due id more than 10 s past its
 * time) the share rises to a half, past a minute to the whole lock, so the
 * ledger cannot grow without bound however busy the server is.
 */
import { sql } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { Database, SqlTransaction, Transaction } from '../db/database.ts';
import { auditLog, cohortCounts, droppedEvents, latencyCounts, messages, mismatchFieldSets, mismatchSamples, reportBatches, rollouts } from '../db/schema.ts';
import { ADD_TO_COUNTS, COUNT_COLUMNS, COUNT_SUMS } from './store.ts';
import type { Logger } from '../logger.ts';
import { createPacer, drizzleSlice, sqlSlice, type Slice } from './pacing.ts';

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
  /** The share of time a sweep's statements may hold the write lock (1: back to back, no pause). */
  writeShare: number;
  /** How often settled ids past `settledMs` are deleted (besides the sweep). */
  settledIntervalMs: number;
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
  limit: 1_000,
  rounds: 2_000,
  writeShare: 0.25,
  settledIntervalMs: 1_000,
};

export type Removed = Record<'settled' | 'ledger' | 'counts' | 'compacted' | 'latency' | 'samples' | 'batches' | 'reporters' | 'callbacks' | 'audit', number>;
const nothingRemoved = (): Removed => ({ settled: 0, ledger: 0, counts: 0, compacted: 0, latency: 0, samples: 0, batches: 0, reporters: 0, callbacks: 0, audit: 0 });

/** Deletes at most `limit` rows of one rollout from `table` matching `condition`. */
async function deleteSome(tx: Transaction, table: typeof messages | typeof cohortCounts | typeof latencyCounts | typeof mismatchSamples | typeof mismatchFieldSets | typeof droppedEvents, rolloutId: number, condition: ReturnType<typeof sql>, limit: number): Promise<number> {
  const result = await tx.run(
    sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${table.rolloutId} = ${rolloutId} AND ${condition} LIMIT ${limit})`,
  );
  return result.rowsAffected;
}

/**
 * The share of the write lock settled ids may take, by how far behind they are (the oldest due id's age
 * past its time): `writeShare` while they keep up, half past 10 s, the whole lock past a minute, so that
 * however busy the server the ledger cannot grow without bound.
 */
export function settledShare(behindMs: number, writeShare: number): number {
  if (behindMs > 60_000) return 1;
  if (behindMs > 10_000) return Math.max(0.5, writeShare);
  return writeShare;
}

/** Deletes at most `limit` settled ids of one rollout that settled before `before`, in plain SQL (see pacing.ts). */
async function deleteSettled(runner: SqlTransaction, rolloutId: number, before: number, limit: number): Promise<number> {
  const result = await runner.execute({
    sql: `DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE rollout_id = ? AND status IN ('processed', 'failed') AND settled_at < ? LIMIT ?)`,
    args: [rolloutId, before, limit],
  });
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

/** What a sweep (or a run of the settled ids' rule alone) did and what it cost, for the metrics. */
export interface SweepReport {
  kind: 'sweep' | 'settled';
  removed: Removed;
  /** Wall time of the whole sweep, pauses included. */
  ms: number;
  statements: number;
  /** The longest a single statement held the write lock. */
  longestStatementMs: number;
}

export interface RetentionDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  policy?: Partial<RetentionPolicy>;
  /** Removes finished callback deliveries before a time, at most `limit` (the callbacks' own rule). */
  pruneCallbacks?(before: number, limit: number): Promise<number>;
  /** Removes reporters silent since before a time, at most `limit` (the reporters' own rule). */
  pruneReporters?(before: number, limit: number): Promise<number>;
  /** After every sweep. */
  onSweep?(report: SweepReport): void;
  /** Waits between statements (tests may hand in their own). */
  pause?(ms: number): Promise<void>;
}

export function createRetention(deps: RetentionDeps) {
  const { database, clock, logger } = deps;
  const policy = { ...DEFAULT_RETENTION, ...deps.policy };
  let timers: NodeJS.Timeout[] = [];
  let sweeping = false;
  let trickling = false;
  let stopped = false;
  const pacing = { limit: policy.limit, rounds: policy.rounds, stopped: () => stopped, pause: deps.pause };
  const pacer = createPacer(pacing);
  /** `rounds` of one statement, each in its own write transaction, paced. */
  const repeat = (statement: (tx: Transaction) => Promise<number>) => pacer.run(drizzleSlice(database, statement), policy.writeShare);

  async function sweepRollout(rolloutId: number, graceSeconds: number, now: number, removed: Removed): Promise<void> {
    const { limit } = policy;
    removed.settled += await pacer.run(sqlSlice(database, (runner) => deleteSettled(runner, rolloutId, now - policy.settledMs, limit)), policy.writeShare);
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

  const trickle = createPacer(pacing);
  async function trickleSettled(): Promise<number> {
    const cutoff = clock.now() - policy.settledMs;
    // Read outside the lock: each rollout's oldest settled id, from the settled index's first entry.
    const { rows } = await database.client.execute({
      sql: `SELECT r.id AS id, (SELECT min(m.settled_at) FROM messages m WHERE m.rollout_id = r.id AND m.status IN ('processed', 'failed')) AS oldest FROM rollouts r`,
      args: [],
    });
    let removed = 0;
    const started = performance.now();
    trickle.reset();
    for (const row of rows) {
      if (row.oldest === null || Number(row.oldest) >= cutoff) continue;
      const share = settledShare(cutoff - Number(row.oldest), policy.writeShare);
      trickling = true;
      try {
        removed += await trickle.run(sqlSlice(database, (runner) => deleteSettled(runner, Number(row.id), cutoff, policy.limit)), share);
      } finally {
        trickling = false;
      }
    }
    if (removed > 0) deps.onSweep?.({ kind: 'settled', removed: { ...nothingRemoved(), settled: removed }, ms: performance.now() - started, statements: trickle.cost.statements, longestStatementMs: trickle.cost.longestMs });
    return removed;
  }

  return {
    policy,
    /** Whether housekeeping is deleting (the metrics tell report commits made meanwhile apart). */
    get sweeping(): boolean {
      return sweeping || trickling;
    },
    /** One sweep over every rollout. Returns how many rows each rule removed (or rolled up). */
    async sweep(): Promise<Removed> {
      const started = performance.now();
      sweeping = true;
      pacer.reset();
      const now = clock.now();
      const removed = nothingRemoved();
      try {
        const all = await database.db.select({ id: rollouts.id, guards: rollouts.guards }).from(rollouts);
        for (const rollout of all) await sweepRollout(rollout.id, rollout.guards.graceSeconds, now, removed);
        const olderThan = async (tx: Transaction, table: typeof reportBatches | typeof auditLog, at: typeof reportBatches.receivedAt | typeof auditLog.at, before: number) =>
          (await tx.run(sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${at} < ${before} LIMIT ${policy.limit})`)).rowsAffected;
        removed.batches = await repeat((tx) => olderThan(tx, reportBatches, reportBatches.receivedAt, now - policy.batchesMs));
        // Another domain's rule, in its own transaction: a slice's time includes any wait in the write queue.
        const theirs = (prune: (before: number, limit: number) => Promise<number>, before: number) => async (): Promise<Slice> => {
          const started = performance.now();
          return { removed: await prune(before, policy.limit), heldMs: performance.now() - started };
        };
        if (deps.pruneReporters) removed.reporters = await pacer.run(theirs(deps.pruneReporters, now - policy.reportersMs), policy.writeShare);
        if (deps.pruneCallbacks) removed.callbacks = await pacer.run(theirs(deps.pruneCallbacks, now - policy.callbacksMs), policy.writeShare);
        removed.audit = await repeat((tx) => olderThan(tx, auditLog, auditLog.at, now - policy.auditMs));
        return removed;
      } finally {
        sweeping = false;
        deps.onSweep?.({ kind: 'sweep', removed, ms: performance.now() - started, statements: pacer.cost.statements, longestStatementMs: pacer.cost.longestMs });
      }
    },
    /** Deletes settled ids that came due, paced by how far behind it is (see the header). Returns rows removed. */
    settled: trickleSettled,
    start(intervalMs = 60_000): void {
      stopped = false;
      const every = (ms: number, work: () => Promise<unknown>, what: string) => {
        let busy = false;
        const timer = setInterval(() => {
          // A long run (a backlog after downtime) is not joined by a second one.
          if (busy) return;
          busy = true;
          work()
            .catch((error: unknown) => {
              if (!stopped) logger.warn(`${what} failed`, { error: String(error) });
            })
            .finally(() => (busy = false));
        }, ms);
        timer.unref();
        timers.push(timer);
      };
      every(intervalMs, () => this.sweep(), 'retention sweep');
      every(policy.settledIntervalMs, trickleSettled, 'deleting settled ids');
    },
    /** Stops the timers; work under way ends after its current statement. */
    stop(): void {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      timers = [];
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
