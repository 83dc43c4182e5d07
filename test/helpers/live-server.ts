/**
 * A real HTTP server on an ephemeral port, in this process, over a real
 * libsql file: for the SDK, SSE and everything that needs a socket. It can
 * be stopped and started again on the same port and database, as a restart.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp, type AppDeps, type RollcallApp } from '../../server/app.ts';
import { systemClock, type Clock } from '../../server/clock.ts';
import { openDatabase, type Database } from '../../server/db/database.ts';
import { silentLogger } from '../../server/logger.ts';
import { ADMIN_KEY, tempDatabaseUrl } from './test-app.ts';
import { rmSync } from 'node:fs';

export interface LiveServer {
  url: string;
  port: number;
  rollcall: RollcallApp;
  database: Database;
  adminKey: string;
  sdkKey: string;
  /** Calls the API as admin (or with `key`). */
  api<T = any>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }>;
  /** Stops listening and drops every connection, keeping the database. */
  stop(): Promise<void>;
  /** Listens again on the same port with a fresh app over the same database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

function listen(rollcall: RollcallApp, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: rollcall.app.fetch, port, hostname: '127.0.0.1' }, () => resolve(server));
    server.once('error', reject);
  });
}

export async function startLiveServer(
  options: { clock?: Clock; heartbeatMs?: number; watchMs?: number; tickMs?: number; deps?: Partial<AppDeps>; databaseUrl?: string; wrapDatabase?: (database: Database) => Database } = {},
): Promise<LiveServer> {
  const { url: dbUrl, dir } = options.databaseUrl === undefined ? tempDatabaseUrl() : { url: options.databaseUrl, dir: null };
  const opened = await openDatabase({ url: dbUrl });
  const database = options.wrapDatabase?.(opened) ?? opened;
  const make = () =>
    createApp({ database, clock: options.clock ?? systemClock, logger: silentLogger, stream: { heartbeatMs: options.heartbeatMs, watchMs: options.watchMs }, controller: { tickMs: options.tickMs ?? 100 }, ...options.deps });
  let rollcall = make();
  await rollcall.services.keys.bootstrap(ADMIN_KEY);
  const sdk = await rollcall.services.keys.create({ kind: 'sdk', name: 'test sdk' }, 'test');
  rollcall.start();
  let server: ServerType | null = await listen(rollcall, 0);
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  async function stopServer(): Promise<void> {
    if (server === null) return;
    const s = server;
    server = null;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    await rollcall.close();
    if ('closeAllConnections' in s) s.closeAllConnections();
    await closed;
  }

  const live: LiveServer = {
    url,
    port,
    get rollcall() {
      return rollcall;
    },
    database,
    adminKey: ADMIN_KEY,
    sdkKey: sdk.key,
    async api(method, path, body, key = ADMIN_KEY) {
      const request = () =>
        fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      // After a restart, the first request may land on a pooled socket the old server closed.
      const res = await request().catch(request);
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : JSON.parse(text) };
    },
    stop: stopServer,
    async restart() {
      await stopServer();
      rollcall = make();
      rollcall.start();
      server = await listen(rollcall, port);
    },
    async close() {
      await stopServer();
      database.close();
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    },
  };
  return live;
}

/** Resolves when `check` returns true, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
