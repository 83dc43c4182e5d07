/**
 * Builds the whole server once from its dependencies. Nothing here reads the
 * environment, starts a timer or opens a socket: `main.ts` does, and tests
 * hand in a temporary database and a fake clock.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createIngester } from './accounting/ingester.ts';
import { mismatchRoutes, reportRoutes } from './accounting/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import { createChangeFeed } from './changes.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Database } from './db/database.ts';
import { AppError } from './errors.ts';
import { requireKey, type AppEnv } from './http/auth.ts';
import { renderError, routeNotFound } from './http/errors.ts';
import { keyRoutes } from './keys/routes.ts';
import { createKeyService } from './keys/service.ts';
import { consoleLogger, type Logger } from './logger.ts';
import { rolloutRoutes } from './rollouts/routes.ts';
import { createRolloutService } from './rollouts/service.ts';
import { sdkConfigRoutes } from './sdk-config/routes.ts';
import { createSnapshotSource } from './sdk-config/snapshot.ts';
import { createStreamHub } from './sdk-config/stream-hub.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppDeps {
  database: Database;
  clock?: Clock;
  logger?: Logger;
  /** SSE heartbeat interval (15 s) and how often other servers' changes are looked for (250 ms). */
  stream?: { heartbeatMs?: number; watchMs?: number };
}

export function createApp(deps: AppDeps) {
  const { database } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? consoleLogger;

  const changes = createChangeFeed();
  const keys = createKeyService({ database, clock, logger });
  const rollouts = createRolloutService({ database, clock, changes });
  const snapshots = createSnapshotSource(database);
  const hub = createStreamHub({ snapshots, changes, logger, ...deps.stream });
  const ingester = createIngester({ database, clock, logger });

  const app = new Hono<AppEnv>();
  app.onError((error, c) => renderError(error, c, logger));
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

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.use('/v1/*', requireKey(keys));
  app.route('/v1/rollouts', rolloutRoutes(rollouts));
  app.route('/v1/rollouts', mismatchRoutes(database));
  app.route('/v1/keys', keyRoutes(keys));
  app.route('/v1/audit', auditRoutes(database));
  app.route('/v1/sdk', sdkConfigRoutes(snapshots, hub));
  app.route('/v1/sdk', reportRoutes(ingester, clock));

  return {
    app,
    services: { keys, rollouts, snapshots, changes, hub, ingester },
    /** Starts the background work: SSE heartbeats and the watch for other servers' changes. */
    start(): void {
      hub.start();
    },
    /** Ends the streams and writes what is still buffered (key usage). Call before closing the database. */
    async close(): Promise<void> {
      hub.stop();
      await keys.flushUsage();
    },
  };
}

export type RollcallApp = ReturnType<typeof createApp>;
