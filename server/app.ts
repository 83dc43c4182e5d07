/**
 * Builds the whole server once from its dependencies. Nothing here reads the
 * environment, starts a timer or opens a socket: `main.ts` does, and tests
 * hand in a temporary database and a fake clock.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { auditRoutes } from './audit/routes.ts';
import { createAuditService } from './audit/service.ts';
import { createAddressPolicy } from './callbacks/address-policy.ts';
import { announceChange, announceStatements, enqueueEvent, eventStatements } from './callbacks/outbox.ts';
import { callbackRoutes, deliveryRoutes } from './callbacks/routes.ts';
import { createSender, type Resolver, type Sender } from './callbacks/sender.ts';
import { createCallbackService } from './callbacks/service.ts';
import { createDeliveryWorker } from './callbacks/worker.ts';
import { createChangeFeed } from './changes.ts';
import type { Cidr } from './config.ts';
import { createController } from './controller/controller.ts';
import { createControllerLease } from './controller/lease.ts';
import { systemClock, type Clock } from './clock.ts';
import { filePathOf, type Database } from './db/database.ts';
import { AppError } from './errors.ts';
import { createDashboardReadModel } from './dashboard/read-model.ts';
import { dashboardRoutes } from './dashboard/routes.tsx';
import { requireKey, type AppEnv } from './http/auth.ts';
import { createFailureLimiter, type FailureLimitOptions } from './http/failure-limit.ts';
import { describe, openApiDocument, openApiDocumentSchema } from './http/openapi.ts';
import { livenessSchema } from './http/responses.ts';
import { healthStatusSchema, healthSummarySchema } from './health/responses.ts';
import { healthRoutes, mismatchRoutes } from './health/routes.ts';
import type { Spread } from './health/measure-memo.ts';
import { createHealthService } from './health/service.ts';
import { renderError, routeNotFound } from './http/errors.ts';
import { keyRoutes } from './keys/routes.ts';
import { createKeyService } from './keys/service.ts';
import { consoleLogger, type Logger } from './logger.ts';
import { createLostAnnouncer } from './lost/announcer.ts';
import { lostRoutes, replayRoutes } from './lost/routes.ts';
import { createLostService } from './lost/service.ts';
import { createMetrics } from './metrics/metrics.ts';
import { createIngester, type CommitMode } from './reports/ingester.ts';
import { createReporterWatch } from './reporters/watch.ts';
import { createRetention, type RetentionPolicy } from './reports/retention.ts';
import { reportRoutes } from './reports/routes.ts';
import { ofrepRoutes } from './ofrep/routes.ts';
import { rolloutResponses } from './rollouts/responses.ts';
import { rolloutRoutes } from './rollouts/routes.ts';
import { createRolloutService } from './rollouts/service.ts';
import { createRolloutSnapshotRead } from './rollouts/snapshot-read.ts';
import { sdkConfigRoutes } from './sdk-config/routes.ts';
import { createSnapshotSource } from './sdk-config/snapshot.ts';
import { createStreamHub } from './sdk-config/stream-hub.ts';
import { monitorWrites } from './storage/monitored-database.ts';
import { createStorageMonitor } from './storage/monitor.ts';
import { readinessRoutes } from './storage/routes.ts';
import { storageFailure } from './storage/unavailable.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
export const API_VERSION = '0.1.0';

/** The list's and the item's schemas, with the status and summary the health domain adds. */
const rolloutSchemas = rolloutResponses(healthStatusSchema, healthSummarySchema);

export interface AppDeps {
  database: Database;
  clock?: Clock;
  logger?: Logger;
  /** SSE heartbeat interval (15 s) and how often other servers' changes are looked for (250 ms). */
  stream?: { heartbeatMs?: number; watchMs?: number; stallMs?: number };
  /** How often the controller evaluates every rollout (250 ms), and how long its lease runs (2 s; 0: no lease, every server passes). */
  controller?: { tickMs?: number; leaseMs?: number; spread?: Spread };
  /** How report groups are committed: one transaction (embedded file) or one batch (libsql server); chosen from the URL. */
  ingestCommit?: CommitMode;
  /** Report batches committed together at most (64). */
  ingestGroupMax?: number;
  /** How the controller's breach decisions are committed, as for reports; chosen from the URL. */
  breachCommit?: 'transaction' | 'batch';
  /** How due messages are marked lost, as for reports; chosen from the URL. */
  lostCommit?: 'transaction' | 'batch';
  retention?: Partial<RetentionPolicy> & { intervalMs?: number };
  /** Failed authentications allowed per client address and window (30 a minute). */
  authFailures?: FailureLimitOptions;
  /** How often dashboard pages refresh their live parts (2 s). */
  dashboardLiveMs?: number;
  /** `/metrics` without a key (`ROLLCALL_METRICS_PUBLIC=1`). */
  metricsPublic?: boolean;
  callbacks?: {
    /** CIDRs callbacks may reach besides public addresses (`ROLLCALL_CALLBACK_ALLOW`). */
    allow?: Cidr[];
    /** Attempts in flight at once (4); 0: this server sends none. */
    concurrency?: number;
    pollMs?: number;
    /** DNS for callback hosts (tests hand in a fake one). */
    resolve?: Resolver;
    /** Replaces the HTTP sender entirely (tests). */
    send?: Sender;
    /** In [0, 1): the retry schedule's jitter. */
    random?: () => number;
    /** How often `messages.lost` may go out per rollout (30 s). */
    lostIntervalMs?: number;
  };
}

export function createApp(deps: AppDeps) {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? consoleLogger;
  const storage = createStorageMonitor({ clock, logger, onError: (operation, fault) => metrics.countStorageError(operation, fault) });
  const database = monitorWrites(deps.database, storage);

  const changes = createChangeFeed();
  const keys = createKeyService({ database, clock, logger });
  const failures = createFailureLimiter(clock, deps.authFailures);
  const snapshots = createSnapshotSource(createRolloutSnapshotRead(database.db));
  // Other servers' changes are looked for every 250 ms on a file (a second process on it is rare), every 100 ms on a
  // libsql server, where they are the rule: an SDK on any server hears a revert within that of its commit.
  const watchMs = deps.stream?.watchMs ?? (filePathOf(database.url) === null ? 100 : 250);
  const hub = createStreamHub({ snapshots, changes, logger, ...deps.stream, watchMs, onError: storage.handles('stream') });
  const leaseMs = deps.controller?.leaseMs;
  const lease = leaseMs === 0 ? undefined : createControllerLease({ database, clock, ttlMs: leaseMs });
  const metrics = createMetrics({ changes, streams: () => hub.connected, statuses: () => health.statuses(), storageAvailable: () => storage.outage?.work !== true, leading: () => lease?.held ?? true });
  const policy = createAddressPolicy(deps.callbacks?.allow ?? []);
  const worker = createDeliveryWorker({
    database,
    clock,
    logger,
    send: deps.callbacks?.send ?? createSender({ policy, resolve: deps.callbacks?.resolve, now: () => clock.now() }),
    concurrency: deps.callbacks?.concurrency,
    pollMs: deps.callbacks?.pollMs,
    random: deps.callbacks?.random,
    onAttempt: metrics.countCallbackAttempt,
    onError: storage.handles('callbacks'),
  });
  const callbacks = createCallbackService({ database, clock, policy, wake: worker.wake, resolve: deps.callbacks?.resolve });
  const rollouts = createRolloutService({ database, clock, changes, announce: announceChange, announceStatements: (list) => announceStatements(database.db, list), breachCommit: deps.breachCommit });
  // Decisions made here wake the worker at once; other servers' decisions are found by its poll.
  changes.subscribe(() => worker.wake());
  const ingester = createIngester({ database, clock, logger, commit: deps.ingestCommit, groupMax: deps.ingestGroupMax,
    events: {
      onApplied(tallies) {
        metrics.countReports(tallies);
        health.forget(new Set(tallies.map((t) => t.rollout)));
      },
      onBatch: (seconds) => metrics.observeIngest(seconds, retention.sweeping),
      onGroup: metrics.observeGroup,
    } });
  const announcer = createLostAnnouncer({ announce: enqueueEvent, intervalMs: deps.callbacks?.lostIntervalMs });
  const lostEvents = {
    onLost(key: string, messages: { cohort: string }[]) {
      metrics.countLost(key, messages);
      health.forget([key]);
      worker.wake();
    },
    onReplayed(keys: string[]) {
      health.forget(keys);
    },
  };
  const reporters = createReporterWatch({ database, announce: enqueueEvent, onGone: metrics.countReporterGone });
  const lost = createLostService({ database, clock, announcer, reporters, events: lostEvents, commit: deps.lostCommit, eventStatements: (list) => eventStatements(database.db, list) });
  const health = createHealthService({ database, clock, rollouts });
  const controller = createController({ clock, logger, rollouts, lost, health, tickMs: deps.controller?.tickMs, spread: deps.controller?.spread, lease, events: { onTick: metrics.observeTick, onError: storage.handles('controller') } });
  const audit = createAuditService({ db: database.db });
  const retention = createRetention({ database, clock, logger, policy: deps.retention, pruneCallbacks: callbacks.prune, pruneReporters: reporters.prune, onSweep: metrics.observeSweep });

  const app = new Hono<AppEnv>();
  const unavailable = storageFailure(storage);
  app.onError((error, c) => renderError(error, c, logger, unavailable));
  app.notFound(routeNotFound);
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError(413, 'payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.get('/healthz', describe({ summary: 'Liveness', public: true, storage: false, response: livenessSchema }), (c) => c.json({ status: 'ok' }));
  app.route('/', readinessRoutes({ database, monitor: storage, clock }));

  if (!deps.metricsPublic) app.use('/metrics', requireKey(keys, failures));
  app.get('/metrics', describe({ summary: 'Prometheus metrics (a read key unless ROLLCALL_METRICS_PUBLIC=1)', public: deps.metricsPublic ?? false, success: { status: 200, description: 'Prometheus text format', contentType: 'text/plain' } }), async (c) => {
    const { contentType, body } = await metrics.render((error) => {
      if (storage.failed('GET /metrics', error) === null) throw error;
    });
    return c.body(body, 200, { 'content-type': contentType });
  });

  app.use('/v1/*', requireKey(keys, failures));
  app.route('/v1/rollouts', rolloutRoutes(rollouts, health.summary, health.board, rolloutSchemas));
  // Mounted in this order because /openapi.json lists paths in the order they were first mounted.
  app.route('/v1/rollouts', healthRoutes(health));
  app.route('/v1/rollouts', lostRoutes(lost));
  app.route('/v1/rollouts', mismatchRoutes(health));
  app.route('/v1/keys', keyRoutes(keys));
  app.route('/v1/audit', auditRoutes(audit));
  app.route('/v1/callbacks', callbackRoutes(callbacks));
  app.route('/v1/deliveries', deliveryRoutes(callbacks));
  app.route('/v1/sdk', sdkConfigRoutes(snapshots, hub));
  app.route('/v1/sdk', replayRoutes(lost));
  app.route('/v1/sdk', reportRoutes(ingester, clock));

  app.route('/ofrep/v1', ofrepRoutes({ hub, keys, failures }));

  let document: ReturnType<typeof openApiDocument> | undefined;
  const describeApi = () =>
    (document ??= openApiDocument(app, { title: 'Rollcall', version: API_VERSION, description: 'Progressive rollouts for risky backend migrations: cohorts, guards, accounting, callbacks.' }));
  app.get('/openapi.json', describe({ summary: 'This description', public: true, storage: false, response: openApiDocumentSchema }), (c) => c.json(describeApi()));
  app.route('/', dashboardRoutes({ keys, failures, rollouts, read: createDashboardReadModel({ db: database.db, clock, rollouts, health, lost, callbacks, audit }), openApi: describeApi, liveMs: deps.dashboardLiveMs, now: () => clock.now() }));

  return {
    app,
    services: { keys, rollouts, snapshots, changes, hub, ingester, lost, health, controller, retention, callbacks, worker, metrics, storage, reporters, audit },
    /** Starts the background work: the controller, SSE heartbeats, the watch for other servers' changes. */
    start(): void {
      hub.start();
      controller.start();
      retention.start(deps.retention?.intervalMs);
      worker.start();
    },
    /** Stops the controller, ends the streams and writes what is still buffered. Call before closing the database. */
    async close(): Promise<void> {
      await controller.stop();
      await worker.stop();
      retention.stop();
      hub.stop();
      await keys.flushUsage();
    },
  };
}

export type RollcallApp = ReturnType<typeof createApp>;
