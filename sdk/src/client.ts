/**
 * `createClient`: the SDK's one entry point. Evaluation is local and never
 * throws; configuration arrives over a stream (polling while it is down),
 * is kept in memory and in `backupPath`; accounting is batched and sent in
 * the background. Every timer but `ready()`'s is unref()ed: the client
 * never keeps a process alive once `ready()` has settled.
 */
import { readBackup, writeBackup } from './config/backup.ts';
import { randomUUID } from './support/builtins.ts';
import { createConfigSource, RollcallHttpError } from './config/config-source.ts';
import { Emitter } from './support/emitter.ts';
import { Evaluator, type SnapshotSource } from './evaluation/evaluator.ts';
import type { ClientEvents, ClientStatus, Evaluation } from './client-types.ts';
import type { Handlers, MessageRef, RunOptions } from './shadow/handlers.ts';
import { settleOptions, type ClientOptions } from './options/options.ts';
import { validateOptions } from './options/validate-options.ts';
import { createReplayLoop, type ReplayHandler } from './replay/replay.ts';
import { createReporter } from './reporting/reporter.ts';
import { createRunner } from './shadow/run.ts';
import type { ConfigSnapshot, Path, DropReason } from '@rollcall/protocol';
import { createTimers, readyLatch } from './support/timers.ts';
import { isSnapshot } from './config/validate-snapshot.ts';

/**
 * The one warning each reason gets, the first time (the counts are in `status.droppedBy` and on the
 * server). A refusal is reported as an error already, saying so.
 */
const DROP_WARNINGS: Partial<Record<DropReason, string>> = {
  buffer_full: 'the report buffer is full: events are being dropped (they are counted and reported as dropped)',
  queue_full: 'the report queue is full while the server cannot be reached: messages and samples are being dropped (counted and reported as dropped; counts are kept)',
};

export type { ClientOptions, Logger } from './options/options.ts';
export type { ClientEvents, ClientStatus, Evaluation } from './client-types.ts';

export const SDK_NAME = 'rollcall-node';
export const SDK_VERSION = '0.2.0';

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function createClient(clientOptions: ClientOptions) {
  validateOptions(clientOptions);
  const options = settleOptions(clientOptions);
  const { logger, url } = options;
  const instanceId = randomUUID();
  const evaluator = new Evaluator();
  const emitter = new Emitter<ClientEvents>((error) => logger.error(`a listener threw: ${toError(error).message}`));
  const replayHandlers = new Map<string, ReplayHandler>();
  const timers = createTimers();
  let confirmedAt = performance.now();
  /** Whether `confirmedAt` is a real confirmation (a server's, or a backup's save time) rather than the start. */
  let dated = false;
  let dropped = 0;
  const droppedBy: Partial<Record<DropReason, number>> = {};
  let closed = false;
  let lastErrorMessage = '';

  // The one timer that is not unref()ed: while the host awaits ready(), the process should
  // wait for it (at most initTimeoutMs). It is cleared as soon as ready() settles.
  const ready = readyLatch(options.initTimeoutMs, () =>
    evaluator.snapshot !== null ? undefined : new Error(`no snapshot within ${options.initTimeoutMs} ms: the server is unreachable and there is no bootstrap or backup`),
  );
  const settleReady = ready.settle;

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

  /** A backup is stale until a server answers; so is everything once fail-closed; the age is since a server last confirmed it. */
  function freshness(): { stale: boolean; ageMs: number | null } {
    const ageMs = dated ? Math.max(0, Math.round(performance.now() - confirmedAt)) : null;
    return { stale: evaluator.failClosed || evaluator.source === 'backup', ageMs };
  }

  function take(snapshot: ConfigSnapshot, from: SnapshotSource): void {
    const applied = evaluator.apply(snapshot, from);
    if (from === 'server') {
      confirmedAt = performance.now();
      dated = true;
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
    ...options,
    sdk: { name: SDK_NAME, version: SDK_VERSION, instanceId },
    onError: reportError,
    onDropped(reason, count) {
      dropped += count;
      const warning = DROP_WARNINGS[reason];
      if (droppedBy[reason] === undefined && warning !== undefined) logger.warn(warning);
      droppedBy[reason] = (droppedBy[reason] ?? 0) + count;
    },
  });

  const source = createConfigSource({
    ...options,
    streamIdleMs: 45_000,
    healthyResetMs: 60_000,
    onSnapshot: (snapshot) => take(snapshot, 'server'),
    onConfirmed() {
      confirmedAt = performance.now();
      dated = true;
      evaluator.failClosed = false;
    },
    onUnreachable() {
      // Routing from a bootstrap or backup snapshot is better than waiting: ready() resolves.
      if (evaluator.snapshot !== null) settleReady();
    },
    onError: (error, fatal) => reportError(error, fatal),
  });

  const runner = createRunner({ ...options, evaluator, reporter, random: Math.random });

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
        dated = true;
      }
    }
    if (closed) return;
    source.start();
  }


  timers.every(options.flushIntervalMs, () => {
    void reporter.flush();
  });
  const replay = createReplayLoop({
    ...options,
    instanceId,
    handlers: replayHandlers,
    leaseSeconds: options.replayLeaseSeconds,
    concurrency: options.replayConcurrency,
    stopped: () => closed || source.stopped,
    onError: (error) => reportError(error, error instanceof RollcallHttpError && error.fatal),
  });
  timers.every(options.replayIntervalMs, replay.tick);

  const failClosedAfterMs = options.failClosedAfterMs;
  if (failClosedAfterMs !== undefined) {
    timers.every(Math.min(1_000, failClosedAfterMs), () => {
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
      return ready.promise;
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
      return { path: route.path, cohort: route.cohort, known, state: rollout?.state ?? null, version: rollout?.version ?? null, ...freshness() };
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
      timers.clear();
      settleReady(new Error('the client was closed before it was ready'));
      // What is buffered goes first: a replay round may take as long as its lease.
      await reporter.flush();
      await replay.idle();
      // The last batch says this instance leaves, so the server stops waiting for its watermark.
      await reporter.flush(true);
    },

    get status(): ClientStatus {
      return {
        source: evaluator.source,
        version: evaluator.snapshot?.version ?? null,
        inFlight: reporter.inFlight,
        buffered: reporter.pending,
        dropped,
        droppedBy: { ...droppedBy },
        queuedBytes: reporter.queuedBytes,
        stopped: source.stopped || reporter.stopped,
        ...freshness(),
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
