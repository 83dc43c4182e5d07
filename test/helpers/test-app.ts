/**
 * A real Rollcall app over a real libsql database in a temporary file,
 * migrated by the same code the server runs, with a manual clock and one key
 * of each kind. Requests go through `app.request()`: no socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type AppDeps, type RollcallApp } from '../../server/app.ts';
import { manualClock } from '../../server/clock.ts';
import { openDatabase, type Database } from '../../server/db/database.ts';
import { silentLogger } from '../../server/logger.ts';
import type { MessageEvent, ReportBatch } from '@rollcall/protocol';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnopqrstuvwxyz';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  /** The bearer key; null sends none. Defaults to the admin key. */
  key?: string | null;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, instead of `body`. */
  raw?: string;
  headers?: Record<string, string>;
}

export interface TestApp {
  rollcall: RollcallApp;
  database: Database;
  clock: ReturnType<typeof manualClock>;
  keys: { admin: string; read: string; sdk: string; adminId: string; readId: string; sdkId: string };
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<Reply<T>>;
  /** Every row of every table, in a stable order: compare two dumps to prove nothing changed. */
  dump(): Promise<Record<string, unknown[]>>;
  close(): Promise<void>;
}

export function tempDatabaseUrl(): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-test-'));
  return { url: `file:${join(dir, 'rollcall.db')}`, dir };
}

export async function dumpTables(database: Database): Promise<Record<string, unknown[]>> {
  const tables = await database.client.execute(
    // Not the controller's lease, nor its kept window sums: a live server's passes write them, whatever any request does.
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('controller_lease', 'count_windows') ORDER BY name",
  );
  const dump: Record<string, unknown[]> = {};
  for (const { name } of tables.rows) {
    const rows = await database.client.execute(`SELECT * FROM "${String(name)}" ORDER BY rowid`);
    dump[String(name)] = rows.rows.map((row) => ({ ...row }));
  }
  return dump;
}

/** `start`: the clock's first reading (1 Nov 2026, 12:00 UTC); `deps`: more of the app's dependencies. */
export async function createTestApp(options: { start?: number; deps?: Partial<AppDeps> } = {}): Promise<TestApp> {
  const { url, dir } = tempDatabaseUrl();
  const database = await openDatabase({ url });
  const clock = manualClock(options.start ?? Date.UTC(2026, 10, 1, 12, 0, 0));
  const rollcall = createApp({ database, clock, logger: silentLogger, ...options.deps });
  await rollcall.services.keys.bootstrap(ADMIN_KEY);
  const adminId = (await rollcall.services.keys.list({ limit: 10 })).items[0]!.id;
  const read = await rollcall.services.keys.create({ kind: 'read', name: 'dashboard' }, adminId);
  const sdk = await rollcall.services.keys.create({ kind: 'sdk', name: 'webhook-service' }, adminId);

  async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers = new Headers(options.headers);
    const key = options.key === undefined ? ADMIN_KEY : options.key;
    if (key !== null) headers.set('authorization', `Bearer ${key}`);
    let body: string | undefined;
    if (options.raw !== undefined) {
      body = options.raw;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const res = await rollcall.app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  const app: TestApp = {
    rollcall,
    database,
    clock,
    keys: { admin: ADMIN_KEY, read: read.key, sdk: sdk.key, adminId, readId: read.id, sdkId: sdk.id },
    call,
    dump: () => dumpTables(database),
    async close() {
      await rollcall.close();
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Use every key once and record it, so later requests write no key-usage rows
  // (they would otherwise show up when a test compares two dumps).
  for (const k of [ADMIN_KEY, read.key, sdk.key]) await call('GET', '/v1/sdk/config', { key: k });
  await rollcall.services.keys.flushUsage();
  return app;
}

/** A four-step plan: shadow 10%, then live 5%, 25%, 100%. */
export const PLAN = [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }, { live: 100 }];

export async function createRollout(t: TestApp, key: string, extra: Record<string, unknown> = {}): Promise<Reply> {
  const reply = await t.call('POST', '/v1/rollouts', { body: { key, plan: PLAN, ...extra } });
  if (reply.status !== 201) throw new Error(`could not create ${key}: ${reply.text}`);
  return reply;
}

let reportSeq = 0;

/** Posts one report batch as an SDK would (gzip, with the clock header) and expects it accepted. */
export async function sendReport(t: TestApp, parts: Partial<ReportBatch>): Promise<void> {
  const batch: ReportBatch = {
    batchId: `batch-${++reportSeq}-${Math.random()}`,
    sdk: { name: 'test', version: '0', instanceId: 'instance-1' },
    sentAt: t.clock.now(),
    counts: [],
    messages: [],
    mismatches: [],
    noise: [],
    ...parts,
  };
  const res = await t.rollcall.app.request('/v1/sdk/reports', {
    method: 'POST',
    headers: { authorization: `Bearer ${t.keys.sdk}`, 'content-encoding': 'gzip', 'x-rollcall-clock': String(t.clock.now()) },
    body: gzipSync(JSON.stringify(batch)),
  });
  if (res.status !== 200) throw new Error(`report refused: ${res.status} ${await res.text()}`);
}

/** `total` messages received now in `cohort`, of which `open` are still open (reported by id) and the rest processed. */
export async function sendTraffic(t: TestApp, rollout: string, cohort: string, total: number, open: number, path: 'new' | 'old' | 'shadow' = 'new'): Promise<void> {
  const now = t.clock.now();
  const messages: MessageEvent[] = Array.from({ length: open }, (_, i) => ({ rollout, messageId: `${cohort}-${now}-${i}`, partnerId: `p${i}`, cohort, path, status: 'open', receivedAt: now, at: now }));
  await sendReport(t, {
    counts: [{ rollout, cohort, path, second: Math.floor(now / 1000), received: total, processed: total - open, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 }],
    messages,
  });
}

/** Statements the app's database client runs while `fn` does (drizzle's reads go through `execute`). */
export async function statementsDuring(t: TestApp, fn: () => Promise<unknown>): Promise<number> {
  const client = t.database.client;
  const execute = client.execute.bind(client);
  let n = 0;
  client.execute = ((statement: Parameters<typeof execute>[0]) => {
    n++;
    return execute(statement);
  }) as typeof client.execute;
  try {
    await fn();
  } finally {
    client.execute = execute as typeof client.execute;
  }
  return n;
}
