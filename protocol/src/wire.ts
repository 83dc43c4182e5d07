/**
 * The wire shape of `POST /v1/sdk/reports`, designed for volume: every event
 * is counted in `counts`, aggregated per flush window; only messages that
 * are still open, failed, or settled in another window or process travel by
 * id in `messages`. So a message that is received and processed within one
 * window costs nothing but two increments, and every message that could be
 * lost can still be named.
 */
import { sha256Hex } from './sha256.ts';
import type { Path } from './snapshot.ts';

/** `c1`… for cohort bands, or a pseudo-cohort. */
export type CohortName = string;

export const PSEUDO_COHORTS = ['baseline', 'shadow', 'pinned', 'completed'] as const;

/**
 * The counters every report carries per rollout, cohort, path and second, in
 * wire order. The one list: the wire types, the server's zod schema, its
 * table columns and upserts, the health figures and the metrics all read
 * their field names from it, so a new counter is one edit here and a migration.
 * - `compared`: comparisons run (shadow and verify); `mismatched`: those whose outputs differed.
 * - `skipped`: comparisons not run because the concurrency cap was reached.
 * - `dropped`: events the server will never see, counted where they belong (see `DROP_REASONS`):
 *   each counter increment of a refused report, and each message or sample that did not travel
 *   by id. Any of these is divergence, never success.
 */
export const COUNTERS = ['received', 'processed', 'failed', 'compared', 'mismatched', 'skipped', 'dropped'] as const;

export type Counter = (typeof COUNTERS)[number];

/**
 * Why events were dropped, as `CountRow.droppedBy` says:
 * - `refused`: the server refused a report (400, 413 or 422) and will never take it; each of its
 *   counter increments, messages and samples is one dropped event.
 * - `buffer_full`: a message or sample that had to travel by id did not fit `maxBufferedEvents`
 *   (its counts still travel).
 * - `queue_full`: a sealed report did not fit the send queue (`maxQueuedBatches`,
 *   `maxQueuedBytes`) while the server could not be reached; its counts were merged into a
 *   queued report, its messages and samples dropped.
 */
export const DROP_REASONS = ['refused', 'buffer_full', 'queue_full'] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type Counts = Record<Counter, number>;

/** All counters at zero, in wire order. */
export function zeroCounts(): Counts {
  const counts = {} as Counts;
  for (const c of COUNTERS) counts[c] = 0;
  return counts;
}

export interface CountRow extends Counts {
  rollout: string;
  cohort: CohortName;
  /** The partner's path: old, new or shadow. */
  path: Path;
  /** Unix second of the first of these events (they fell within one flush window). */
  second: number;
  /** `dropped` by reason (they add up to it); absent when nothing was dropped, and from older SDKs. */
  droppedBy?: Partial<Record<DropReason, number>>;
  /** Latency of the authoritative handler: sparse [slot, count, slot, count, …] (see latency.ts). */
  latency?: number[];
  /** Latency of the comparison candidate, same encoding. */
  candidateLatency?: number[];
  /**
   * The mismatches counted in `mismatched`, grouped by the set of fields they differ in
   * (generalised paths, sorted; `(error)`, `(timeout)`, `(more)` for what is not a field):
   * how the server ranks fields and withdraws mismatches that lie wholly in noise.
   */
  differences?: FieldSet[];
}

/** The field a mismatch is counted under when one path failed and the other did not, or the candidate timed out. */
export const ERROR_FIELD = '(error)';
export const TIMEOUT_FIELD = '(timeout)';

/**
 * A mismatch names at most MAX_PATHS differing fields; past that its set ends
 * with MORE_PATHS, a field that is never noise, so a message too different to
 * list is never withdrawn.
 */
export const MAX_PATHS = 20;
export const MORE_PATHS = '(more)';

export interface FieldSet {
  paths: string[];
  count: number;
}

export type MessageStatus = 'open' | 'processed' | 'failed';

export interface MessageEvent {
  rollout: string;
  messageId: string;
  partnerId: string;
  cohort: CohortName;
  path: Path;
  status: MessageStatus;
  /** When the message was received (epoch ms, SDK clock), when known here. */
  receivedAt?: number;
  /** When this status was reached (epoch ms, SDK clock). */
  at: number;
  error?: string;
}

export interface DiffEntry {
  path: string;
  old?: unknown;
  new?: unknown;
}

export type MismatchKind = 'diff' | 'error' | 'timeout';

export interface MismatchSample {
  rollout: string;
  cohort: CohortName;
  messageId: string;
  partnerId: string;
  /** Which path was authoritative: old in shadow cohorts, new in verified ones. */
  authoritative: 'old' | 'new';
  kind: MismatchKind;
  diffs: DiffEntry[];
  at: number;
}

export interface NoiseReport {
  rollout: string;
  /** Paths found to differ between two runs of the old path. */
  paths: string[];
  /** Double runs of the old path made (0 while learning has found none yet); absent from older SDKs. */
  runs?: number;
  /** With `runs`: in how many of them each of `paths` differed. */
  counts?: number[];
}

export interface ReportBatch {
  batchId: string;
  sdk: { name: string; version: string; instanceId: string };
  /** When the batch was sealed (epoch ms, SDK clock). The server corrects clock skew by the `x-rollcall-clock` header, read when the batch is sent. */
  sentAt: number;
  counts: CountRow[];
  messages: MessageEvent[];
  mismatches: MismatchSample[];
  noise: NoiseReport[];
  /**
   * Every event this instance saw up to this moment (epoch ms, SDK clock) is in this batch or an
   * earlier one. Absent (older SDKs), the server takes the batch's arrival as its watermark.
   */
  watermark?: number;
  /** The instance is closing: it leaves the rollouts it reported on (it is not gone). */
  final?: boolean;
}

export interface ReportAck {
  batchId: string;
  duplicate: boolean;
  /** Rows naming rollouts this server does not know. */
  ignored: number;
}

/** The longest message or partner id the server takes. */
export const MAX_WIRE_ID = 256;

/**
 * An id as it travels: as it is when it fits, otherwise its first 190
 * characters, `#` and its SHA-256 — the same in every process, so a message
 * received in one service and settled in another still meets itself.
 */
export function wireId(id: string): string {
  // A prefix, `#` and 64 hex characters of hash: 255 characters, under MAX_WIRE_ID.
  return id.length <= MAX_WIRE_ID ? id : `${id.slice(0, MAX_WIRE_ID - 66)}#${sha256Hex(id)}`;
}
