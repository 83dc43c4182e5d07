/**
 * A full disk, for real: the database lives on a small tmpfs mounted by the
 * test (CI runs as root), filled to the last byte while an SDK reports. Where
 * mounting is not allowed, the same test runs on a database whose writes fail
 * with SQLite's own SQLITE_FULL error, and says so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibsqlError } from '@libsql/client';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import type { Database } from '../../../server/db/database.ts';
import type { Logger } from '../../../server/logger.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';
import { fillDisk, mountSmallDisk } from '../../helpers/small-disk.ts';

const lines: { level: string; message: string }[] = [];
const logger: Logger = {
  info: (message) => lines.push({ level: 'info', message }),
  warn: (message) => lines.push({ level: 'warn', message }),
  error: (message) => lines.push({ level: 'error', message }),
};

let dir: string;
let mounted = false;
let filler: string;
let injectedFull = false;
let live: LiveServer;
let rc: RollcallClient;
const errors: { status?: number; message: string }[] = [];

function failingWhenFull(database: Database): Database {
  const full = () => new LibsqlError('SQLITE_FULL: database or disk is full', 'SQLITE_FULL');
  return {
    ...database,
    write: (fn) => (injectedFull ? Promise.reject(full()) : database.write(fn)),
    writeSql: (fn) => (injectedFull ? Promise.reject(full()) : database.writeSql(fn)),
    writeBatch: (statements) => (injectedFull ? Promise.reject(full()) : database.writeBatch(statements)),
    close: () => database.close(),
  };
}

async function counts(): Promise<Record<string, any>> {
  const rows = await live.database.client.execute(`SELECT sum(received) received, sum(processed) processed, sum(failed) failed, sum(dropped) dropped FROM cohort_counts`);
  const ledger = await live.database.client.execute(`SELECT status, count(*) n FROM messages GROUP BY status`);
  return { ...Object.fromEntries(Object.entries(rows.rows[0]!).map(([k, v]) => [k, Number(v)])), ledger: Object.fromEntries(ledger.rows.map((r) => [r.status, Number(r.n)])) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollcall-disk-'));
  filler = join(dir, 'filler');
  mounted = mountSmallDisk(dir, '24m');
  if (!mounted) console.warn('disk-full test: cannot mount a tmpfs here (not root?); SQLITE_FULL is injected at the storage layer instead');
  live = await startLiveServer({
    databaseUrl: `file:${join(dir, 'rollcall.db')}`,
    deps: { logger },
    ...(mounted ? {} : { wrapDatabase: failingWhenFull }),
  });
  await live.api('POST', '/v1/rollouts', { key: 'disk', plan: [{ live: 100 }] });
  await live.api('POST', '/v1/rollouts/disk/start');
  rc = createClient({
    url: live.url,
    sdkKey: live.sdkKey,
    flushIntervalMs: 100,
    retry: { firstMs: 100, maxMs: 400 },
    maxBufferedEvents: 500_000,
    logger: { warn() {}, error() {} },
  });
  rc.on('error', (error) => errors.push({ status: (error as { status?: number }).status, message: error.message }));
  await rc.ready();
}, 60_000);

afterAll(async () => {
  await rc?.close();
  await live?.close();
  if (mounted) execFileSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a full disk', () => {
  const sent: { partnerId: string; messageId: string }[] = [];

  it('answers 503 storage_unavailable with Retry-After, logs it once, and the SDK keeps what it could not send', async () => {
    if (mounted) fillDisk(filler);
    else injectedFull = true;

    // Messages received and not yet processed travel by id: the ledger must grow, and cannot.
    for (let round = 0; round < 40 && !errors.some((e) => e.status === 503); round++) {
      for (let i = 0; i < 2_000; i++) {
        const message = { partnerId: `p-${i % 97}`, messageId: `m-${sent.length}` };
        sent.push(message);
        rc.received('disk', message);
      }
      await rc.flush();
    }
    await waitFor(() => errors.some((e) => e.status === 503), 10_000, 'a 503 from the server');

    const report = await fetch(`${live.url}/v1/sdk/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        batchId: 'by-hand-1',
        sdk: { name: 'test', version: '0', instanceId: 'by-hand' },
        sentAt: Date.now(),
        counts: [],
        messages: [{ rollout: 'disk', cohort: 'c1', path: 'new', messageId: 'by-hand-1', partnerId: 'p', status: 'open', receivedAt: Date.now(), at: Date.now() }],
        mismatches: [],
        noise: [],
      }),
    });
    expect(report.status).toBe(503);
    expect(report.headers.get('retry-after')).toBe('5');
    const body: any = await report.json();
    expect(body.error.code).toBe('storage_unavailable');
    expect(body.error.details.fault).toBe('disk_full');

    const ready = await fetch(`${live.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).error.details.fault).toBe('disk_full');
    expect((await fetch(`${live.url}/healthz`)).status).toBe(200);

    const metrics = await (await fetch(`${live.url}/metrics`, { headers: { authorization: `Bearer ${live.adminKey}` } })).text();
    expect(metrics).toMatch(/rollcall_storage_errors_total\{operation="POST \/v1\/sdk\/reports",fault="disk_full"\} [1-9]/);

    expect(lines.filter((l) => l.message.startsWith('storage unavailable'))).toHaveLength(1);
    expect(lines.filter((l) => l.message.includes('unhandled'))).toEqual([]);
    expect(rc.status.buffered).toBeGreaterThan(0);
    expect(rc.status.dropped).toBe(0);
    console.log(`disk-full: ${mounted ? 'a real tmpfs' : 'injected SQLITE_FULL'}, ${sent.length} messages received before the first 503`);
  }, 60_000);

  it('recovers by itself once there is room: ready again, every message counted exactly once', async () => {
    if (mounted) unlinkSync(filler);
    else injectedFull = false;

    await waitFor(async () => (await fetch(`${live.url}/readyz`)).status === 200, 15_000, 'readiness');
    for (const message of sent) rc.processed('disk', message);
    await waitFor(
      async () => {
        await rc.flush();
        return rc.status.buffered === 0 && (await counts()).processed === sent.length;
      },
      30_000,
      'every message to be delivered',
    );
    expect(await counts()).toEqual({ received: sent.length, processed: sent.length, failed: 0, dropped: 0, ledger: { processed: sent.length } });
    expect(lines.filter((l) => l.message.startsWith('storage available again'))).toHaveLength(1);
  }, 60_000);
});
