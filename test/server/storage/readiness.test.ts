/**
 * Readiness tells the truth: on a filesystem that still takes small writes
 * but not a report batch, `/readyz` answers 503 while report batches fail,
 * whatever a one-row write manages, and 200 again once a batch's worth of
 * bytes commits. The database lives on a small tmpfs mounted by the test (CI
 * runs as root); where mounting is not allowed, writes larger than a few
 * pages fail with SQLite's own SQLITE_FULL instead, and the test says so.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibsqlError, type InStatement, type InValue } from '@libsql/client';
import type { Database } from '../../../server/db/database.ts';
import type { Logger } from '../../../server/logger.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';
import { fillDisk, mountSmallDisk } from '../../helpers/small-disk.ts';

const lines: string[] = [];
const logger: Logger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
let dir: string;
let mounted = false;
/** Without a tmpfs: writes that carry more than this many bytes fail as a full disk would. */
let roomBytes = Number.POSITIVE_INFINITY;
let live: LiveServer;

/** Fills the filesystem, then frees `room` bytes: small writes fit, a report batch does not. */
function fillLeaving(room: number): void {
  const reserve = join(dir, 'reserve');
  const fd = openSync(reserve, 'w');
  writeSync(fd, Buffer.alloc(room, 1));
  closeSync(fd);
  fillDisk(join(dir, 'filler'));
  unlinkSync(reserve);
}

/** The fallback: a write whose values exceed `roomBytes` fails with SQLITE_FULL. */
function smallWritesOnly(database: Database): Database {
  const full = () => new LibsqlError('SQLITE_FULL: database or disk is full', 'SQLITE_FULL');
  const size = (statements: InStatement[]) => statements.reduce((n, s) => n + JSON.stringify(typeof s === 'string' ? s : s.args ?? []).length + (typeof s === 'string' ? 0 : /randomblob/.test(s.sql) ? Number((s.args as unknown[])[1]) : 0), 0);
  return {
    ...database,
    writeSql: (fn) =>
      database.writeSql((runner) =>
        // The transaction's own runner, each statement weighed first (and none sent as a batch, unweighed).
        fn({
          ...runner,
          batch: undefined,
          execute: async (statement: { sql: string; args: InValue[] }) => {
            if (size([statement]) > roomBytes) throw full();
            return runner.execute(statement);
          },
        }),
      ),
    writeBatch: (statements) => (size(statements) > roomBytes ? Promise.reject(full()) : database.writeBatch(statements)),
    close: () => database.close(),
  };
}

/** A report naming `n` open messages by id: what a busy SDK sends when its handlers are slow. */
function report(id: string, n: number) {
  const now = Date.now();
  return JSON.stringify({
    batchId: `readiness-${id}`,
    sdk: { name: 'test', version: '0', instanceId: 'readiness' },
    sentAt: now,
    counts: [],
    messages: Array.from({ length: n }, (_, i) => ({ rollout: 'ready', cohort: 'c1', path: 'new', messageId: `${id}-message-${i}-${'x'.repeat(40)}`, partnerId: `partner-${i % 97}`, status: 'open', receivedAt: now, at: now })),
    mismatches: [],
    noise: [],
  });
}

const post = (body: string) => fetch(`${live.url}/v1/sdk/reports`, { method: 'POST', headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json' }, body });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollcall-ready-'));
  mounted = mountSmallDisk(dir, '12m');
  if (!mounted) console.warn('readiness test: cannot mount a tmpfs here (not root?); writes over 64 kB fail with an injected SQLITE_FULL instead');
  live = await startLiveServer({ databaseUrl: `file:${join(dir, 'rollcall.db')}`, deps: { logger }, ...(mounted ? {} : { wrapDatabase: smallWritesOnly }) });
  await live.api('POST', '/v1/rollouts', { key: 'ready', plan: [{ live: 100 }] });
  await live.api('POST', '/v1/rollouts/ready/start');
}, 60_000);

afterAll(async () => {
  await live?.close();
  if (mounted) execFileSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
});

const available = async () =>
  /^rollcall_storage_available (\d)$/m.exec(await (await fetch(`${live.url}/metrics`, { headers: { authorization: `Bearer ${live.adminKey}` } })).text())?.[1];

describe('readiness on a disk that takes small writes but not a report batch', () => {
  it('answers 503 while report batches fail, though a one-row write still fits', async () => {
    if (mounted) fillLeaving(160 * 1024);
    else roomBytes = 64 * 1024;
    const first = await post(report('small', 1));
    expect(first.status, await first.clone().text()).toBe(200);
    const big = await post(report('big', 3_000));
    expect(big.status).toBe(503);
    expect(((await big.json()) as any).error.code).toBe('storage_unavailable');
    // Small writes still commit (a key's use, a one-row probe) — and readiness is not fooled by them.
    expect((await post(report('small-again', 1))).status).toBe(200);
    const ready = await fetch(`${live.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).error.code).toBe('storage_unavailable');
    expect((await fetch(`${live.url}/readyz`)).status).toBe(503);
    // The metric the alert rule RollcallStorageUnavailable reads says the same.
    expect(await available()).toBe('0');
    console.log(`readiness: ${mounted ? 'a real tmpfs with 160 kB free' : 'injected SQLITE_FULL above 64 kB'}`);
  }, 30_000);

  it('is ready again once a report batch fits, and the batch then commits', async () => {
    if (mounted) unlinkSync(join(dir, 'filler'));
    else roomBytes = Number.POSITIVE_INFINITY;
    await waitFor(async () => (await fetch(`${live.url}/readyz`)).status === 200, 10_000, 'readiness');
    expect((await post(report('big', 3_000))).status).toBe(200);
    expect(await available()).toBe('1');
    expect(lines.filter((l) => l.startsWith('storage available again'))).toHaveLength(1);
  }, 30_000);
});
