/**
 * `createClient`: the SDK's one entry point, wiring its parts together.
 * Evaluation is local and never throws (evaluation/); configuration arrives
 * over a stream, polling while it is down, and is kept in memory and in
 * `backupPath` (config/); accounting is batched and sent in the background
 * (reporting/); `run()` counts each message and shadow-runs the other path
 * (shadow/); lost messages are replayed (replay/). Every timer but `ready()`'s
 * is unref()ed: the client never keeps a process alive once `ready()` has settled.
 */
import type { ConfigSnapshot, Path } from '@rollcall/protocol';
import type { ClientEvents, ClientStatus, Evaluation } from './client-types.ts';
import { createConfigSource, RollcallHttpError } from './config/config-source.ts';
import { createSnapshots } from './config/snapshots.ts';
import { Evaluator } from './evaluation/evaluator.ts';
import { explain } from './evaluation/explain.ts';
import { settleOptions, type ClientOptions } from './options/options.ts';
import { validateOptions } from './options/validate-options.ts';
import { createReplayLoop, type ReplayHandler } from './replay/replay.ts';
import { createMessagesById } from './reporting/by-id.ts';
import { createDropTally } from './reporting/drops.ts';
import { createReporter } from './reporting/reporter.ts';
import type { Handlers, MessageRef, RunOptions } from './shadow/handlers.ts';
import { createRunner } from './shadow/run.ts';
import { randomUUID } from './support/builtins.ts';
import { Emitter } from './support/emitter.ts';
import { createErrorReporter, toError } from './support/errors.ts';
import { createTimers, readyLatch } from './support/timers.ts';

export type { ClientOptions, Logger } from './options/options.ts';
export type { ClientEvents, ClientStatus, Evaluation } from './client-types.ts';

export const SDK_NAME = 'rollcall-node';
export const SDK_VERSION = '0.2.0';

export function createClient(clientOptions: ClientOptions) {
  validateOptions(clientOptions);
  const options = settleOptions(clientOptions);
  const { logger } = options;
  const instanceId = randomUUID();
  const evaluator = new Evaluator();
  const emitter = new Emitter<ClientEvents>((error) => logger.error(`a listener threw: ${toError(error).message}`));
  const replayHandlers = new Map<string, ReplayHandler>();
  const timers = createTimers();
  const drops = createDropTally(logger);
  let closed = false;

  // The one timer that is not unref()ed: while the host awaits ready(), the process should
  // wait for it (at most initTimeoutMs). It is cleared as soon as ready() settles.
  const ready = readyLatch(options.initTimeoutMs, () =>
    evaluator.snapshot !== null ? undefined : new Error(`no snapshot within ${options.initTimeoutMs} ms: the server is unreachable and there is no bootstrap or backup`),
  );
  const settleReady = ready.settle;

  const reportError = createErrorReporter(emitter, logger, (error) => {
    settleReady(error);
    source.stop();
  });

  const snapshots = createSnapshots({
    evaluator,
    logger,
    bootstrap: options.bootstrap,
    backupPath: options.backupPath,
    onServerSnapshot: () => settleReady(),
    onChange: (change) => emitter.emit('change', change),
    onRevert: (revert) => emitter.emit('revert', revert),
  });

  const reporter = createReporter({
    ...options,
    sdk: { name: SDK_NAME, version: SDK_VERSION, instanceId },
    onError: reportError,
    onDropped: drops.add,
  });
  const byId = createMessagesById(evaluator, reporter);

  const source = createConfigSource({
    ...options,
    streamIdleMs: 45_000,
    healthyResetMs: 60_000,
    onSnapshot: (snapshot) => snapshots.take(snapshot, 'server'),
    onConfirmed: snapshots.confirmed,
    onUnreachable() {
      // Routing from a bootstrap or backup snapshot is better than waiting: ready() resolves.
      if (evaluator.snapshot !== null) settleReady();
    },
    onError: (error, fatal) => reportError(error, fatal),
  });

  const runner = createRunner({ ...options, evaluator, reporter, random: Math.random });

  async function start(): Promise<void> {
    snapshots.takeBootstrap();
    if (options.backupPath !== undefined) await snapshots.takeBackup(options.backupPath);
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
    timers.every(Math.min(1_000, failClosedAfterMs), () => snapshots.checkFailClosed(failClosedAfterMs));
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
      return { ...explain(evaluator, rolloutKey, partnerId), ...snapshots.freshness() };
    },

    run<T>(rolloutKey: string, message: MessageRef, handlers: Handlers<T>, runOptions?: RunOptions): Promise<T> {
      return runner.run(rolloutKey, message, handlers, runOptions);
    },

    /** A message arrived; `processed` or `failed` will follow, here or in another process. */
    received(rolloutKey: string, message: MessageRef): void {
      guard(() => byId.received(rolloutKey, message));
    },

    processed(rolloutKey: string, message: MessageRef): void {
      guard(() => byId.settle(rolloutKey, message, true));
    },

    failed(rolloutKey: string, message: MessageRef & { error?: unknown }): void {
      guard(() => byId.settle(rolloutKey, message, false, message.error === undefined ? 'failed' : String(message.error instanceof Error ? message.error.message : message.error)));
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
        dropped: drops.dropped,
        droppedBy: drops.droppedBy(),
        queuedBytes: reporter.queuedBytes,
        stopped: source.stopped || reporter.stopped,
        ...snapshots.freshness(),
      };
    },

    /** The snapshot in hand (for tooling and the OpenFeature provider). */
    get snapshot(): ConfigSnapshot | null {
      return evaluator.snapshot;
    },

    /** @internal the registered replay handlers, for the replay worker. */
    replayHandlers: replayHandlers as ReadonlyMap<string, ReplayHandler>,
  };
}

export type RollcallClient = ReturnType<typeof createClient>;
export { RollcallHttpError };
