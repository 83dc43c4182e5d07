/**
 * What a group of report batches adds, worked out before anything is
 * written: count sums per rollout, cohort, path and second, latency cells,
 * ledger rows, samples, field sets, noise and the reporters heard. Pure: the
 * ingester decides how it is committed (see ingester.ts).
 *
 * SDK timestamps are moved onto the server's clock by the offset between the
 * two at the moment of sending (the `x-rollcall-clock` header).
 */
import type { RolloutRef } from '../db/rollout-ids.ts';
import { COUNTERS, zeroCounts, type Counts, type DropReason, type ReportAck } from '@rollcall/protocol';
import type { Heard } from '../reporters/watch.ts';
import type { ValidBatch } from './schemas.ts';
import type * as store from './store.ts';

export interface Submission {
  batch: ValidBatch;
  /** Server time minus SDK time when the batch was sent, in ms. */
  clockOffset: number;
}

export interface IngestPlan {
  /** One per submission, in order. */
  acks: ReportAck[];
  counts: (store.CountDelta & Counts)[];
  latency: store.LatencyDelta[];
  /** Drops by reason (rare: only what SDKs reported dropped). */
  dropped: store.DroppedDelta[];
  opened: store.MessageRow[];
  /** Settled ledger rows by rollout id. */
  settled: Map<number, store.MessageRow[]>;
  samples: store.SampleRow[];
  fieldSets: store.FieldSetRow[];
  noise: store.NoiseDelta[];
  heard: Heard[];
}

/** Every rollout key the submissions name. */
export function keysOf(submissions: Submission[]): string[] {
  const keys = new Set<string>();
  for (const { batch } of submissions) {
    for (const r of batch.counts) keys.add(r.rollout);
    for (const r of batch.messages) keys.add(r.rollout);
    for (const r of batch.mismatches) keys.add(r.rollout);
    for (const r of batch.noise) keys.add(r.rollout);
  }
  return [...keys];
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

/** The plan of `submissions`, of which only the batch ids in `fresh` are new; `now` is the server's clock. */
export function planIngest(submissions: Submission[], known: Map<string, RolloutRef>, fresh: Set<string>, now: number): IngestPlan {
  const counts = new Map<string, store.CountDelta & Counts>();
  const latency = new Map<string, store.LatencyDelta>();
  const dropped = new Map<string, store.DroppedDelta>();
  const opened: store.MessageRow[] = [];
  const settled = new Map<number, store.MessageRow[]>();
  const samples: store.SampleRow[] = [];
  const fieldSets = new Map<string, store.FieldSetRow>();
  const noise = new Map<number, store.NoiseDelta>();
  const acks: ReportAck[] = [];
  const heard = new Map<string, Heard>();

  // A batch sent twice within one group is applied once: the first takes the claim.
  const unclaimed = new Set(fresh);
  for (const { batch, clockOffset } of submissions) {
    if (!unclaimed.delete(batch.batchId)) {
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
      for (const [reason, n] of Object.entries(row.droppedBy ?? {}) as [DropReason, number][]) {
        if (n === 0) continue;
        const k = `${rollout.id}|${minute}|${row.cohort}|${row.path}|${reason}`;
        const cell = dropped.get(k) ?? { rolloutId: rollout.id, bucket: minute, cohort: row.cohort, path: row.path, reason, count: 0 };
        cell.count += n;
        dropped.set(k, cell);
      }
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
  return { acks, counts: [...counts.values()], latency: [...latency.values()], dropped: [...dropped.values()], opened, settled, samples, fieldSets: [...fieldSets.values()], noise: [...noise.values()], heard: [...heard.values()] };
}
