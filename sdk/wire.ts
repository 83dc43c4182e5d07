/**
 * The wire shape of `POST /v1/sdk/reports`, designed for volume: every event
 * is counted in `counts`, aggregated per flush window; only messages that
 * are still open, failed, or settled in another window or process travel by
 * id in `messages`. So a message that is received and processed within one
 * window costs nothing but two increments, and every message that could be
 * lost can still be named.
 */
import { createHash } from 'node:crypto';
import type { Path } from './snapshot.ts';

/** `c1`… for cohort bands, or a pseudo-cohort. */
export type CohortName = string;

export const PSEUDO_COHORTS = ['baseline', 'shadow', 'pinned', 'completed'] as const;

export interface CountRow {
  rollout: string;
  cohort: CohortName;
  /** The partner's path: old, new or shadow. */
  path: Path;
  /** Unix second of the first of these events (they fell within one flush window). */
  second: number;
  received: number;
  processed: number;
  failed: number;
  /** Comparisons run (shadow and verify). */
  compared: number;
  mismatched: number;
  /** Comparisons not run because the concurrency cap was reached. */
  skipped: number;
  /** Events this SDK could not buffer. Any of these is divergence, never success. */
  dropped: number;
  /** Latency of the authoritative handler: sparse [slot, count, slot, count, …] (see latency.ts). */
  latency?: number[];
  /** Latency of the comparison candidate, same encoding. */
  candidateLatency?: number[];
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
  /** Paths found to differ between two runs of the old path; ignored from then on. */
  paths: string[];
}

export interface ReportBatch {
  batchId: string;
  sdk: { name: string; version: string; instanceId: string };
  /** When the batch was sealed (epoch ms, SDK clock); the server corrects clock skew with it. */
  sentAt: number;
  counts: CountRow[];
  messages: MessageEvent[];
  mismatches: MismatchSample[];
  noise: NoiseReport[];
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
  return id.length <= MAX_WIRE_ID ? id : `${id.slice(0, MAX_WIRE_ID - 66)}#${createHash('sha256').update(id).digest('hex')}`;
}
