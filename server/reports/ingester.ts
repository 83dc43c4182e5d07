/**
 * Ingestion with group commit: batches that arrive while a write is under
 * way are applied together in the next transaction, and every request is
 * answered only after its batch is committed. A batch id seen before is
 * acknowledged without being counted again. What a group adds is worked
 * out in ingest-plan.ts; here it is committed (see CommitMode).
 */
import type { Clock } from '../clock.ts';
import { deferredWrites, filePathOf, queuedBatch, type Database, type SqlRunner, type SqlTransaction } from '../db/database.ts';
import { rolloutsByKey, type RolloutRef } from '../db/rollout-ids.ts';
import type { Logger } from '../logger.ts';
import type { Counts, ReportAck } from '@rollcall/protocol';
import { recordReporters } from '../reporters/watch.ts';
import { storageFault } from '../storage/faults.ts';
import { keysOf, planIngest, type IngestPlan, type Submission } from './ingest-plan.ts';
import * as store from './store.ts';

export type { Submission } from './ingest-plan.ts';

/** Batches committed together at most, by default. */
export const GROUP_MAX = 64;

/** Counts a committed group added to one cohort of a rollout, named by key (for the metrics). */
export type CohortTally = Counts & { cohort: string; rollout: string };

export interface IngesterEvents {
  /** After each commit: the counts it added. */
  onApplied?(tallies: CohortTally[]): void;
  /** Per batch: seconds from its arrival to its commit. */
  onBatch?(seconds: number): void;
  /** Per commit: how many batches it took. */
  onGroup?(batches: number): void;
}

type Applied = { acks: ReportAck[]; tallies: CohortTally[] };

/**
 * How a group is committed. `transaction`: claims read back, then the writes,
 * in one write transaction (the embedded file, where a statement costs
 * microseconds). `batch`: for a libsql server, where each statement of an
 * interactive transaction is an HTTP round trip made while holding the
 * database's write lock, so that three servers mostly waited for each other.
 * The rollouts and the batch ids already seen are read first, outside any
 * lock; then claims and writes go as one batch, one round trip, executed
 * by the server as one transaction. A claim another server made meanwhile
 * fails that batch, and the group is applied again as a transaction, which
 * tells the duplicate apart.
 */
export type CommitMode = 'transaction' | 'batch';

export function createIngester(deps: { database: Database; clock: Clock; logger: Logger; events?: IngesterEvents; commit?: CommitMode; groupMax?: number }) {
  const { database, clock, logger } = deps;
  const groupMax = deps.groupMax ?? GROUP_MAX;
  const mode: CommitMode = deps.commit ?? (filePathOf(database.url) === null ? 'batch' : 'transaction');
  let waiting: { submission: Submission; arrived: number; resolve(ack: ReportAck): void; reject(error: unknown): void }[] = [];
  let running = false;

  const claimsOf = (submissions: Submission[]) => submissions.map(({ batch }) => ({ batchId: batch.batchId, instanceId: batch.sdk.instanceId }));

  /** The writes nobody reads back, in their order (one round trip to a libsql server when `runner` batches). */
  async function writePlan(runner: SqlTransaction, plan: IngestPlan, known: Map<string, RolloutRef>, now: number): Promise<void> {
    const graceById = new Map([...known.values()].map((r) => [r.id, r.graceSeconds]));
    await store.addCounts(runner, plan.counts);
    await store.addLatency(runner, plan.latency);
    await store.addDropped(runner, plan.dropped);
    await store.openMessages(runner, plan.opened);
    for (const [rolloutId, rows] of plan.settled) await store.settleMessages(runner, rows, graceById.get(rolloutId)! * 1000);
    await store.addFieldSets(runner, plan.fieldSets);
    await store.addNoise(runner, plan.noise, now);
    await recordReporters(runner, plan.heard, now);
  }

  /** The sums already made per rollout, cohort, path and second are what the metrics count. */
  function talliesOf(plan: IngestPlan, known: Map<string, RolloutRef>): CohortTally[] {
    const keyOf = new Map([...known].map(([key, r]) => [r.id, key]));
    return plan.counts.map((c) => ({ ...c, rollout: keyOf.get(c.rolloutId)! }));
  }

  /** One write transaction: every batch id claimed in one statement (RETURNING the new ones), then the writes. */
  async function apply(runner: SqlTransaction, submissions: Submission[]): Promise<Applied> {
    const now = clock.now();
    const known = await rolloutsByKey(runner, keysOf(submissions));
    const fresh = await store.claimBatches(runner, claimsOf(submissions), now);
    const plan = planIngest(submissions, known, fresh, now);
    const writes = deferredWrites(runner);
    await writePlan(writes, plan, known, now);
    await writes.flush();
    await insertWithinLimit(runner, plan.samples);
    return { acks: plan.acks, tallies: talliesOf(plan, known) };
  }

  /** Reads outside the lock, then claims and writes in one batch (see CommitMode). */
  async function applyAsBatch(submissions: Submission[]): Promise<Applied> {
    const reader: SqlRunner = { execute: (statement) => database.client.execute(statement) };
    const claims = claimsOf(submissions);
    const [known, seen] = await Promise.all([rolloutsByKey(reader, keysOf(submissions)), store.seenBatches(reader, claims.map((c) => c.batchId))]);
    const now = clock.now();
    const fresh = new Set(claims.map((c) => c.batchId).filter((id) => !seen.has(id)));
    const plan = planIngest(submissions, known, fresh, now);
    // Nothing here is read back: every statement is queued, then sent as one batch.
    const writes = queuedBatch(database, { rowsAsJson: true });
    const firstClaim = new Map(claims.filter((c) => fresh.has(c.batchId)).map((c) => [c.batchId, c]));
    await store.insertClaims(writes, [...firstClaim.values()], now);
    await writePlan(writes, plan, known, now);
    await store.insertSamplesCapped(writes, plan.samples, SAMPLES_PER_MINUTE);
    await writes.flush();
    return { acks: plan.acks, tallies: talliesOf(plan, known) };
  }

  /** Commits a group as the mode says; a batch that meets a claim made meanwhile is applied again as a transaction. */
  async function commit(submissions: Submission[]): Promise<Applied> {
    if (mode === 'transaction') return database.writeSql((runner) => apply(runner, submissions));
    try {
      return await applyAsBatch(submissions);
    } catch (error) {
      if (storageFault(error) !== null || !/UNIQUE constraint failed: report_batches/i.test(String((error as { cause?: unknown }).cause ?? error))) throw error;
      return database.writeSql((runner) => apply(runner, submissions));
    }
  }

  /** Keeps at most 20 samples per rollout, cohort and minute. */
  async function insertWithinLimit(runner: SqlTransaction, samples: store.SampleRow[]): Promise<void> {
    const room = new Map<string, number>();
    const keep: store.SampleRow[] = [];
    for (const s of samples) {
      const key = `${s.rolloutId}|${s.cohort}|${s.minute}`;
      let left = room.get(key);
      if (left === undefined) left = SAMPLES_PER_MINUTE - (await store.samplesInMinute(runner, s.rolloutId, s.cohort, s.minute));
      if (left > 0) keep.push(s);
      room.set(key, left - 1);
    }
    await store.insertSamples(runner, keep);
  }

  function committed(group: typeof waiting, acks: ReportAck[], tallies: CohortTally[]): void {
    const now = performance.now();
    deps.events?.onGroup?.(group.length);
    group.forEach((g, i) => {
      g.resolve(acks[i]!);
      deps.events?.onBatch?.((now - g.arrived) / 1000);
    });
    deps.events?.onApplied?.(tallies);
  }

  async function drain(): Promise<void> {
    running = true;
    try {
      while (waiting.length > 0) {
        const group = waiting.slice(0, groupMax);
        waiting = waiting.slice(group.length);
        try {
          const { acks, tallies } = await commit(group.map((g) => g.submission));
          committed(group, acks, tallies);
        } catch (error) {
          // Storage refused the whole group (disk full, server gone): each batch alone would fare no better.
          if (group.length === 1 || storageFault(error) !== null) {
            for (const g of group) g.reject(error);
            continue;
          }
          // One bad batch must not fail the others: apply them one by one.
          logger.warn('a report group failed; applying its batches one at a time', { error: String(error) });
          for (const g of group) {
            try {
              const { acks, tallies } = await commit([g.submission]);
              committed([g], acks, tallies);
            } catch (single) {
              g.reject(single);
            }
          }
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /** Batches committed together at most. */
    groupMax,

    submit(submission: Submission): Promise<ReportAck> {
      return new Promise<ReportAck>((resolve, reject) => {
        waiting.push({ submission, arrived: performance.now(), resolve, reject });
        if (!running) void drain();
      });
    },
  };
}

export const SAMPLES_PER_MINUTE = 20;

export type Ingester = ReturnType<typeof createIngester>;
