/**
 * Ingestion with group commit: batches that arrive while a write is under
 * way are applied together in the next transaction, and every request is
 * answered only after its batch is committed. A batch id seen before is
 * acknowledged without being counted again.
 *
 * SDK timestamps are moved onto the server's clock by the offset between the
 * two at the moment of sending (the `x-rollcall-clock` header).
 */
import type { Clock } from '../clock.ts';
import { deferredWrites, type Database, type SqlRunner } from '../db/database.ts';
import { rolloutsByKey } from '../db/rollout-ids.ts';
import type { Logger } from '../logger.ts';
import { COUNTERS, zeroCounts, type Counts, type ReportAck } from '../../sdk/wire.ts';
import { recordHeard, type Heard } from '../reporters/store.ts';
import { storageFault } from '../storage/faults.ts';
import type { ValidBatch } from './schemas.ts';
import * as store from './store.ts';

export interface Submission {
  batch: ValidBatch;
  /** Server time minus SDK time when the batch was sent, in ms. */
  clockOffset: number;
}

const GROUP_MAX = 64;

/** Counts a committed group added to one cohort of a rollout, named by key (for the metrics). */
export type CohortTally = Counts & { cohort: string; rollout: string };

export interface IngesterEvents {
  /** After each commit: the counts it added. */
  onApplied?(tallies: CohortTally[]): void;
  /** Per batch: seconds from its arrival to its commit. */
  onBatch?(seconds: number): void;
}

function unpackHistogram(pairs: number[] | undefined, each: (slot: number, count: number) => void): void {
  if (pairs === undefined) return;
  for (let i = 0; i + 1 < pairs.length; i += 2) if (pairs[i + 1]! > 0) each(pairs[i]!, pairs[i + 1]!);
}

/** Adds a watermarked batch to what the group heard from its instance; returns the set its rollouts go into. */
function heardFrom(heard: Map<string, Heard>, batch: ValidBatch, watermark: number): Set<number> {
  const { instanceId } = batch.sdk;
  let reporter = heard.get(instanceId);
  if (reporter === undefined) heard.set(instanceId, (reporter = { instanceId, watermark, final: false, rolloutIds: new Set() }));
  reporter.watermark = Math.max(reporter.watermark, watermark);
  reporter.final = batch.final === true;
  return reporter.rolloutIds;
}

export function createIngester(deps: { database: Database; clock: Clock; logger: Logger; events?: IngesterEvents }) {
  const { database, clock, logger } = deps;
  let waiting: { submission: Submission; arrived: number; resolve(ack: ReportAck): void; reject(error: unknown): void }[] = [];
  let running = false;

  async function apply(runner: SqlRunner, submissions: Submission[]): Promise<{ acks: ReportAck[]; tallies: CohortTally[] }> {
    const now = clock.now();
    const keys = new Set<string>();
    for (const { batch } of submissions) {
      for (const r of batch.counts) keys.add(r.rollout);
      for (const r of batch.messages) keys.add(r.rollout);
      for (const r of batch.mismatches) keys.add(r.rollout);
      for (const r of batch.noise) keys.add(r.rollout);
    }
    const known = await rolloutsByKey(runner, [...keys]);
    const graceById = new Map([...known.values()].map((r) => [r.id, r.graceSeconds]));
    const counts = new Map<string, store.CountDelta & Counts>();
    const latency = new Map<string, store.LatencyDelta>();
    const opened: store.MessageRow[] = [];
    const settled = new Map<number, store.MessageRow[]>();
    const samples: store.SampleRow[] = [];
    const fieldSets = new Map<string, store.FieldSetRow>();
    const noise = new Map<number, store.NoiseDelta>();
    const acks: ReportAck[] = [];
    const heard = new Map<string, Heard>();

    // Every batch id claimed in one statement; a batch sent twice within one group is applied once.
    const fresh = await store.claimBatches(runner, submissions.map(({ batch }) => ({ batchId: batch.batchId, instanceId: batch.sdk.instanceId })), now);
    for (const { batch, clockOffset } of submissions) {
      if (!fresh.delete(batch.batchId)) {
        acks.push({ batchId: batch.batchId, duplicate: true, ignored: 0 });
        continue;
      }
      let ignored = 0;
      const onServer = (t: number) => Math.min(now, t + clockOffset);
      // A batch without a watermark (an older SDK, the Python client) promises nothing and is
      // followed by no heartbeat: its sender is not waited for, its messages are judged as they were.
      const named = batch.watermark === undefined ? new Set<number>() : heardFrom(heard, batch, onServer(batch.watermark));
      for (const row of batch.counts) {
        const rollout = known.get(row.rollout);
        if (rollout === undefined) {
          ignored++;
          continue;
        }
        named.add(rollout.id);
        const bucket = Math.floor(onServer(row.second * 1000) / 1000);
        const key = `${rollout.id}|${bucket}|${row.cohort}|${row.path}`;
        let sum = counts.get(key);
        if (sum === undefined) counts.set(key, (sum = { rolloutId: rollout.id, bucket, cohort: row.cohort, path: row.path, ...zeroCounts() }));
        for (const c of COUNTERS) sum[c] += row[c];
        for (const d of row.differences ?? []) {
          const fields = d.paths.join('\n');
          const k = `${key}|${fields}`;
          const set = fieldSets.get(k) ?? { rolloutId: rollout.id, cohort: row.cohort, path: row.path, bucket, fields, count: 0 };
          set.count += d.count;
          fieldSets.set(k, set);
        }
        const minute = bucket - (bucket % 60);
        for (const [role, pairs] of [['authoritative', row.latency], ['candidate', row.candidateLatency]] as const) {
          unpackHistogram(pairs, (slot, n) => {
            const k = `${rollout.id}|${minute}|${row.cohort}|${row.path}|${role}|${slot}`;
            const cell = latency.get(k) ?? { rolloutId: rollout.id, bucket: minute, cohort: row.cohort, path: row.path, role, slot, count: 0 };
            cell.count += n;
            latency.set(k, cell);
          });
        }
      }
      for (const m of batch.messages) {
        const rollout = known.get(m.rollout);
        if (rollout === undefined) {
          ignored++;
          continue;
        }
        named.add(rollout.id);
        const row: store.MessageRow = {
          rolloutId: rollout.id,
          messageId: m.messageId,
          partnerId: m.partnerId,
          cohort: m.cohort,
          path: m.path,
          status: m.status,
          receivedAt: m.receivedAt === undefined ? null : onServer(m.receivedAt),
          settledAt: m.status === 'open' ? null : onServer(m.at),
          error: m.error ?? null,
        };
        if (m.status === 'open') opened.push(row);
        else {
          const list = settled.get(rollout.id) ?? [];
          list.push(row);
          settled.set(rollout.id, list);
        }
      }
      for (const s of batch.mismatches) {
        const rollout = known.get(s.rollout);
        if (rollout === undefined) {
          ignored++;
          continue;
        }
        named.add(rollout.id);
        const at = onServer(s.at);
        samples.push({
          rolloutId: rollout.id,
          cohort: s.cohort,
          minute: Math.floor(at / 60_000) * 60,
          at,
          messageId: s.messageId,
          partnerId: s.partnerId,
          authoritative: s.authoritative,
          kind: s.kind,
          diffs: s.diffs,
          instanceId: batch.sdk.instanceId,
        });
      }
      for (const n of batch.noise) {
        const rollout = known.get(n.rollout);
        if (rollout === undefined) {
          ignored++;
          continue;
        }
        named.add(rollout.id);
        let delta = noise.get(rollout.id);
        if (delta === undefined) noise.set(rollout.id, (delta = { rolloutId: rollout.id, runs: null, differing: new Map() }));
        if (n.runs !== undefined) delta.runs = (delta.runs ?? 0) + n.runs;
        n.paths.forEach((path, i) => delta.differing.set(path, (delta.differing.get(path) ?? 0) + (n.counts?.[i] ?? 1)));
      }
      acks.push({ batchId: batch.batchId, duplicate: false, ignored });
    }

    // The writes nobody reads back go out together, in their order: one round trip to a libsql server.
    const writes = deferredWrites(runner);
    await store.addCounts(writes, [...counts.values()]);
    await store.addLatency(writes, [...latency.values()]);
    await store.openMessages(writes, opened);
    for (const [rolloutId, rows] of settled) {
      const grace = graceById.get(rolloutId)!;
      await store.settleMessages(writes, rows, grace * 1000);
    }
    await store.addFieldSets(writes, [...fieldSets.values()]);
    await store.addNoise(writes, [...noise.values()], now);
    for (const reporter of heard.values()) await recordHeard(writes, reporter, now);
    await writes.flush();
    await insertWithinLimit(runner, samples);
    // The sums already made per rollout, cohort, path and second are what the metrics count.
    const keyOf = new Map([...known].map(([key, r]) => [r.id, key]));
    const tallies = [...counts.values()].map((c) => ({ ...c, rollout: keyOf.get(c.rolloutId)! }));
    return { acks, tallies };
  }

  /** Keeps at most 20 samples per rollout, cohort and minute. */
  async function insertWithinLimit(runner: SqlRunner, samples: store.SampleRow[]): Promise<void> {
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
        const group = waiting.slice(0, GROUP_MAX);
        waiting = waiting.slice(group.length);
        try {
          const { acks, tallies } = await database.writeSql((runner) => apply(runner, group.map((g) => g.submission)));
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
              const { acks, tallies } = await database.writeSql((runner) => apply(runner, [g.submission]));
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
