/**
 * The client's options as a host passes them, and settled once: every
 * default in one place, so nothing else in the client writes `?? 1_000`.
 */
import type { RunCompareOptions } from '../shadow/handlers.ts';
import type { ConfigSnapshot } from '@rollcall/protocol';

export interface Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: Logger = {
  warn: (message) => console.warn(`[rollcall] ${message}`),
  error: (message) => console.error(`[rollcall] ${message}`),
};

export interface ClientOptions {
  /** The Rollcall server, e.g. http://127.0.0.1:8787. */
  url: string;
  /** An `rc_sdk_…` key. */
  sdkKey: string;
  /** A snapshot (the body of GET /v1/sdk/config) to route by until the server answers. */
  bootstrap?: ConfigSnapshot;
  /** A file holding the last good snapshot, read at start when the server cannot be reached. */
  backupPath?: string;
  /** How often accounting is sent (1000 ms). */
  flushIntervalMs?: number;
  fetch?: typeof fetch;
  /** `ready()` settles within this (5000 ms). */
  initTimeoutMs?: number;
  logger?: Logger;
  /** Route everything to old once the snapshot has not been confirmed by the server for this long. Off by default. */
  failClosedAfterMs?: number;
  /** Use the SSE stream (true), or only poll. */
  stream?: boolean;
  /** Polling interval while the stream is down (30000 ms). */
  pollIntervalMs?: number;
  /** Reconnect backoff: first delay and cap (1000 ms, 60000 ms). */
  reconnect?: { firstMs?: number; maxMs?: number };
  /** A report the server has not answered within this is abandoned and retried with the same batch id (10000 ms). */
  reportTimeoutMs?: number;
  /** Report retry backoff: first delay and cap (1000 ms, 30000 ms). */
  retry?: { firstMs?: number; maxMs?: number };
  /** Events (ids and samples) held for sending at most (10000); more are counted as dropped. */
  maxBufferedEvents?: number;
  /** Reported ids from `received()` kept for a `processed()` here (100000); older ones are forgotten. */
  maxRememberedIds?: number;
  /** Events per batch at most (5000): a full batch is sent at once. */
  maxBatchEvents?: number;
  /** Sealed reports waiting for the server at most (100); while it is away, reports of counts alone merge into one. */
  maxQueuedBatches?: number;
  /** Bytes (as JSON) of sealed reports waiting for the server at most (8 MB). */
  maxQueuedBytes?: number;
  /** Comparison options for every rollout, and per rollout key. */
  compare?: RunCompareOptions;
  compareByRollout?: Record<string, RunCompareOptions>;
  /** A shadow (candidate) call still running after this is a `timeout` mismatch (5000 ms). */
  shadowTimeoutMs?: number;
  /** Comparisons running at once at most (100); past it, after queued work and its own handler, one is skipped (and counted). */
  maxConcurrentComparisons?: number;
  /** With an `onReplay` handler: how often lost messages are claimed (5000 ms), under what lease (60 s), how many at once (4). */
  replay?: { intervalMs?: number; leaseSeconds?: number; concurrency?: number };
}

/** The defaults, settled: what the client runs with. */
export function settleOptions(options: ClientOptions) {
  return {
    url: options.url.replace(/\/+$/, ''),
    sdkKey: options.sdkKey,
    bootstrap: options.bootstrap,
    backupPath: options.backupPath,
    flushIntervalMs: options.flushIntervalMs ?? 1_000,
    fetch: options.fetch ?? globalThis.fetch,
    initTimeoutMs: options.initTimeoutMs ?? 5_000,
    logger: options.logger ?? consoleLogger,
    failClosedAfterMs: options.failClosedAfterMs,
    stream: options.stream ?? true,
    pollIntervalMs: options.pollIntervalMs ?? 30_000,
    reconnectFirstMs: options.reconnect?.firstMs ?? 1_000,
    reconnectMaxMs: options.reconnect?.maxMs ?? 60_000,
    reportTimeoutMs: options.reportTimeoutMs ?? 10_000,
    retryFirstMs: options.retry?.firstMs ?? 1_000,
    retryMaxMs: options.retry?.maxMs ?? 30_000,
    maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
    maxRememberedIds: options.maxRememberedIds ?? 100_000,
    maxBatchEvents: options.maxBatchEvents ?? 5_000,
    maxQueuedBatches: options.maxQueuedBatches ?? 100,
    maxQueuedBytes: options.maxQueuedBytes ?? 8 * 1024 * 1024,
    /** Mismatch samples kept per cell and flush window. */
    maxSamplesPerWindow: 20,
    compareFor: (rolloutKey: string): RunCompareOptions | undefined => options.compareByRollout?.[rolloutKey] ?? options.compare,
    shadowTimeoutMs: options.shadowTimeoutMs ?? 5_000,
    maxConcurrentComparisons: options.maxConcurrentComparisons ?? 100,
    replayIntervalMs: options.replay?.intervalMs ?? 5_000,
    replayLeaseSeconds: options.replay?.leaseSeconds ?? 60,
    replayConcurrency: options.replay?.concurrency ?? 4,
  };
}

export type SettledOptions = ReturnType<typeof settleOptions>;
