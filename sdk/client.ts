/**
 * `createClient`: the SDK's one entry point. Evaluation is local and never
 * throws; configuration arrives over a stream (polling while it is down),
 * is kept in memory and in `backupPath`; accounting is batched and sent in
 * the background. Every timer but `ready()`'s is unref()ed: the client
 * never keeps a process alive once `ready()` has settled.
 */
import { randomUUID } from 'node:crypto';
import { readBackup, writeBackup } from './backup.ts';
import { createConfigSource, RollcallHttpError } from './config-source.ts';
import { Emitter } from './emitter.ts';
import { Evaluator, type ChangeEvent, type RevertEvent, type SnapshotSource } from './evaluator.ts';
import { replayRound, type ReplayHandler } from './replay.ts';
import { createReporter } from './reporter.ts';
import { createRunner, type Handlers, type MessageRef, type RunCompareOptions, type RunOptions } from './run.ts';
import type { ConfigSnapshot, Path, RolloutState } from './snapshot.ts';
import { isSnapshot } from './validate-snapshot.ts';

export const SDK_NAME = 'rollcall-node';
export const SDK_VERSION = '0.2.0';

export interface Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const consoleLogger: Logger = {
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
  /** Events per batch at most (5000): a full batch is sent at once. */
  maxBatchEvents?: number;
  /** Comparison options for every rollout, and per rollout key. */
  compare?: RunCompareOptions;
  compareByRollout?: Record<string, RunCompareOptions>;
  /** A shadow (candidate) call still running after this is a `timeout` mismatch (5000 ms). */
  shadowTimeoutMs?: number;
  /** Comparisons running at once at most (100); more are skipped and counted. */
  maxConcurrentComparisons?: number;
  /** With an `onReplay` handler: how often lost messages are claimed (5000 ms), under what lease (60 s), how many at once (4). */
  replay?: { intervalMs?: number; leaseSeconds?: number; concurrency?: number };
}


export interface ClientEvents {
  change: ChangeEvent;
  revert: RevertEvent;
  error: Error;
  [key: string]: unknown;
}

export interface Evaluation {
  path: Path;
  /** The cohort the partner is measured in (`c1`…, `shadow`, `baseline`, `pinned`, `completed`). */
  cohort: string;
  /** False when the snapshot has no such rollout (the path is then `old`). */
  known: boolean;
  state: RolloutState | null;
  version: number | null;
  /** True when `failClosedAfterMs` has routed everything to old. */
  stale: boolean;
}

export interface ClientStatus {
  source: SnapshotSource;
  version: number | null;
  inFlight: number;
  buffered: number;
  dropped: number;
  stopped: boolean;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function createClient(options: ClientOptions) {
  const logger = options.logger ?? consoleLogger;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = options.url.replace(/\/+$/, '');
  const instanceId = randomUUID();
  const evaluator = new Evaluator();
  const emitter = new Emitter<ClientEvents>((error) => logger.error(`a listener threw: ${toError(error).message}`));
  const replayHandlers = new Map<string, ReplayHandler>();
  const timers: NodeJS.Timeout[] = [];
  let confirmedAt = performance.now();
  let dropped = 0;
  let warnedDrop = false;
  let closed = false;
  let lastErrorMessage = '';

  // The one timer that is not unref()ed: while the host awaits ready(), the process should
  // wait for it (at most initTimeoutMs). It is cleared as soon as ready() settles.
  const initTimer = setTimeout(() => {
    if (evaluator.snapshot !== null) settleReady();
    else settleReady(new Error(`no snapshot within ${options.initTimeoutMs ?? 5_000} ms: the server is unreachable and there is no bootstrap or backup`));
  }, options.initTimeoutMs ?? 5_000);
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  let readySettled = false;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  readyPromise.catch(() => undefined);
  const settleReady = (error?: Error) => {
    if (readySettled) return;
    readySettled = true;
    clearTimeout(initTimer);
    if (error === undefined) resolveReady();
    else rejectReady(error);
  };

  function reportError(error: unknown, fatal: boolean): void {
    const e = toError(error);
    if (fatal) {
      settleReady(e);
      source.stop();
    }
    if (emitter.listenerCount('error') > 0) emitter.emit('error', e);
    else if (e.message !== lastErrorMessage) logger.warn(e.message);
    lastErrorMessage = e.message;
  }

  function take(snapshot: ConfigSnapshot, from: SnapshotSource): void {
    const applied = evaluator.apply(snapshot, from);
    if (from === 'server') {
      confirmedAt = performance.now();
      evaluator.failClosed = false;
      settleReady();
    }
    if (applied === null) return;
    if (from === 'server' && options.backupPath !== undefined) {
      writeBackup(options.backupPath, snapshot, Date.now()).catch((error: unknown) => logger.warn(`cannot write the backup: ${toError(error).message}`));
    }
    if (applied.change.changed.length > 0) emitter.emit('change', applied.change);
    for (const revert of applied.reverts) emitter.emit('revert', revert);
  }

  const reporter = createReporter({
    url,
    sdkKey: options.sdkKey,
    fetch: fetchImpl,
    sdk: { name: SDK_NAME, version: SDK_VERSION, instanceId },
    maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
    maxBatchEvents: options.maxBatchEvents ?? 5_000,
    maxSamplesPerWindow: 20,
    reportTimeoutMs: options.reportTimeoutMs ?? 10_000,
    retryFirstMs: options.retry?.firstMs ?? 1_000,
    retryMaxMs: options.retry?.maxMs ?? 30_000,
    onError: reportError,
    onDropped() {
      dropped++;
      if (!warnedDrop) {
        warnedDrop = true;
        logger.warn('the report buffer is full: events are being dropped (they are counted and reported as dropped)');
      }
    },
  });

  const source = createConfigSource({
    url,
    sdkKey: options.sdkKey,
    fetch: fetchImpl,
    stream: options.stream ?? true,
    pollIntervalMs: options.pollIntervalMs ?? 30_000,
    reconnectFirstMs: options.reconnect?.firstMs ?? 1_000,
    reconnectMaxMs: options.reconnect?.maxMs ?? 60_000,
    streamIdleMs: 45_000,
    healthyResetMs: 60_000,
    onSnapshot: (snapshot) => take(snapshot, 'server'),
    onConfirmed() {
      confirmedAt = performance.now();
      evaluator.failClosed = false;
    },
    onUnreachable() {
      // Routing from a bootstrap or backup snapshot is better than waiting: ready() resolves.
      if (evaluator.snapshot !== null) settleReady();
    },
    onError: (error, fatal) => reportError(error, fatal),
  });

  const runner = createRunner({
    evaluator,
    reporter,
    compareFor: (rolloutKey) => options.compareByRollout?.[rolloutKey] ?? options.compare,
    shadowTimeoutMs: options.shadowTimeoutMs ?? 5_000,
    maxConcurrentComparisons: options.maxConcurrentComparisons ?? 100,
    random: Math.random,
  });

  /**
   * Runs `fn` every `ms`, the first time after a random part of `ms`: many
   * instances started together (a deploy) then report spread over the
   * interval instead of all at once.
   */
  function every(ms: number, fn: () => void): void {
    const first = setTimeout(() => {
      fn();
      const timer = setInterval(fn, ms);
      timer.unref();
      timers.push(timer);
    }, Math.floor(Math.random() * ms));
    first.unref();
    timers.push(first);
  }

  async function start(): Promise<void> {
    if (options.bootstrap !== undefined) {
      if (isSnapshot(options.bootstrap)) take(options.bootstrap, 'bootstrap');
      else logger.warn('the bootstrap option is not a snapshot; ignored');
    }
    if (options.backupPath !== undefined) {
      const backup = await readBackup(options.backupPath);
      if (backup !== null && evaluator.source !== 'server' && (evaluator.snapshot === null || backup.snapshot.version >= evaluator.snapshot.version)) {
        take(backup.snapshot, 'backup');
        confirmedAt = performance.now() - Math.max(0, Date.now() - backup.savedAt);
      }
    }
    if (closed) return;
    source.start();
  }


  every(options.flushIntervalMs ?? 1_000, () => {
    void reporter.flush();
  });
  let replaying: Promise<void> | null = null;
  async function replayLoop(): Promise<void> {
    // Keep claiming while full pages come back; stop at the first short one or error.
    for (;;) {
      if (closed || source.stopped || replayHandlers.size === 0) return;
      const claimed = await replayRound({
        url,
        sdkKey: options.sdkKey,
        instanceId,
        fetch: fetchImpl,
        handlers: replayHandlers,
        leaseSeconds: options.replay?.leaseSeconds ?? 60,
        batch: 50,
        concurrency: options.replay?.concurrency ?? 4,
      });
      if (claimed < 50) return;
    }
  }
  every(options.replay?.intervalMs ?? 5_000, () => {
    if (replayHandlers.size === 0 || replaying !== null) return;
    replaying = replayLoop()
      .catch((error: unknown) => reportError(error, error instanceof RollcallHttpError && error.fatal))
      .finally(() => {
        replaying = null;
      });
  });

  const failClosedAfterMs = options.failClosedAfterMs;
  if (failClosedAfterMs !== undefined) {
    every(Math.min(1_000, failClosedAfterMs), () => {
      evaluator.failClosed = performance.now() - confirmedAt > failClosedAfterMs;
    });
  }
  void start();

  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      reportError(error, false);
    }
  };

  return {
    /** Resolves with the first snapshot from the server, or from a bootstrap/backup when the server cannot be reached; rejects on a bad key or after `initTimeoutMs` with nothing to route by. */
    ready(): Promise<void> {
      return readyPromise;
    },

    /** 'old' | 'new' | 'shadow'. Synchronous and never throws. */
    path(rolloutKey: string, partnerId: string): Path {
      try {
        return evaluator.path(rolloutKey, partnerId);
      } catch {
        return 'old';
      }
    },

    /** The path with why: the cohort, the rollout's state and version. Allocates; use `path()` on hot paths. */
    evaluate(rolloutKey: string, partnerId: string): Evaluation {
      const route = { path: 'old' as Path, cohort: 'baseline' };
      const known = evaluator.has(rolloutKey);
      const rollout = evaluator.snapshot?.rollouts.find((r) => r.key === rolloutKey);
      try {
        evaluator.route(rolloutKey, partnerId, route);
      } catch {
        route.path = 'old';
      }
      return { path: route.path, cohort: route.cohort, known, state: rollout?.state ?? null, version: rollout?.version ?? null, stale: evaluator.failClosed };
    },

    run<T>(rolloutKey: string, message: MessageRef, handlers: Handlers<T>, runOptions?: RunOptions): Promise<T> {
      return runner.run(rolloutKey, message, handlers, runOptions);
    },

    /** A message arrived; `processed` or `failed` will follow, here or in another process. */
    received(rolloutKey: string, message: MessageRef): void {
      guard(() => {
        const route = { path: 'old' as Path, cohort: 'baseline' };
        if (!evaluator.route(rolloutKey, message?.partnerId, route) || typeof message.messageId !== 'string' || message.messageId === '') return;
        reporter.receivedById(reporter.cell(rolloutKey, route.cohort, route.path), message.messageId, message.partnerId, performance.now());
      });
    },

    processed(rolloutKey: string, message: MessageRef): void {
      guard(() => settle(rolloutKey, message, true));
    },

    failed(rolloutKey: string, message: MessageRef & { error?: unknown }): void {
      guard(() => settle(rolloutKey, message, false, message.error === undefined ? 'failed' : String(message.error instanceof Error ? message.error.message : message.error)));
    },

    /** Registers the handler that re-processes lost messages of a rollout through the old path. */
    onReplay(rolloutKey: string, handler: ReplayHandler): () => void {
      replayHandlers.set(rolloutKey, handler);
      return () => {
        if (replayHandlers.get(rolloutKey) === handler) replayHandlers.delete(rolloutKey);
      };
    },

    on<K extends 'change' | 'revert' | 'error'>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
      return emitter.on(event, listener);
    },

    off<K extends 'change' | 'revert' | 'error'>(event: K, listener: (payload: ClientEvents[K]) => void): void {
      emitter.off(event, listener);
    },

    /** Sends everything buffered now. Resolves whether or not the server took it (a failure is retried). */
    async flush(): Promise<void> {
      await reporter.flush();
    },

    /** Stops the stream and timers and sends what is buffered. */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      source.stop();
      for (const timer of timers) clearInterval(timer);
      settleReady(new Error('the client was closed before it was ready'));
      // What is buffered goes first: a replay round may take as long as its lease.
      await reporter.flush();
      await replaying;
      await reporter.flush();
    },

    get status(): ClientStatus {
      return {
        source: evaluator.source,
        version: evaluator.snapshot?.version ?? null,
        inFlight: reporter.inFlight,
        buffered: reporter.pending,
        dropped,
        stopped: source.stopped || reporter.stopped,
      };
    },

    /** The snapshot in hand (for tooling and the OpenFeature provider). */
    get snapshot(): ConfigSnapshot | null {
      return evaluator.snapshot;
    },

    /** @internal the registered replay handlers, for the replay worker. */
    replayHandlers: replayHandlers as ReadonlyMap<string, ReplayHandler>,
  };

  function settle(rolloutKey: string, message: MessageRef, ok: boolean, error?: string): void {
    if (typeof message?.messageId !== 'string' || message.messageId === '' || !evaluator.has(rolloutKey)) return;
    const partnerId = typeof message.partnerId === 'string' ? message.partnerId : '';
    reporter.settleById(rolloutKey, message.messageId, partnerId, ok, performance.now(), () => {
      const route = { path: 'old' as Path, cohort: 'baseline' };
      evaluator.route(rolloutKey, partnerId, route);
      return reporter.cell(rolloutKey, route.cohort, route.path);
    }, error);
  }
}

export type RollcallClient = ReturnType<typeof createClient>;
export { RollcallHttpError };
