/**
 * The process: reads the environment once, opens and migrates the database,
 * bootstraps the admin key, serves HTTP, and shuts down cleanly on SIGTERM.
 * The only file that reads `process.env`, starts timers or opens sockets.
 */
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { systemClock } from './clock.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase } from './db/database.ts';
import { consoleLogger as logger } from './logger.ts';

const USAGE_FLUSH_MS = 60_000;
const SHUTDOWN_GRACE_MS = 5_000;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`rollcall: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const database = await openDatabase({ url: config.dbUrl, authToken: config.dbAuthToken });
  const rollcall = createApp({ database, clock: systemClock, logger, metricsPublic: config.metricsPublic, callbacks: { allow: config.callbackAllow, concurrency: config.callbackConcurrency },
    retention: { settledMs: config.settledRetentionSeconds * 1000, intervalMs: config.retentionIntervalSeconds * 1000 },
    ingestGroupMax: config.ingestGroupMax,
  });

  const { generated } = await rollcall.services.keys.bootstrap(config.adminKey);
  if (generated !== null) {
    console.log(
      [
        '',
        '  No admin key existed, so one was generated. It is shown this once and stored only as a hash:',
        '',
        `    ${generated}`,
        '',
        '  Keep it somewhere safe, or set ROLLCALL_ADMIN_KEY before the next first start.',
        '',
      ].join('\n'),
    );
  }

  rollcall.start();
  const usageTimer = setInterval(() => {
    rollcall.services.keys.flushUsage().catch((error: unknown) => logger.warn('key usage flush failed', { error: String(error) }));
  }, USAGE_FLUSH_MS);
  usageTimer.unref();

  const server = serve({ fetch: rollcall.app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(`rollcall listening on http://${config.host}:${info.port}`, { database: config.dbUrl.startsWith('file:') ? config.dbUrl : 'remote' });
  });
  server.on('error', (error) => {
    logger.error(`cannot listen on ${config.host}:${config.port}`, { error: String(error) });
    process.exit(1);
  });

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    clearInterval(usageTimer);
    const force = setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await rollcall.close();
    await closed;
    database.close();
    logger.info('stopped');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  logger.error('rollcall failed to start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
