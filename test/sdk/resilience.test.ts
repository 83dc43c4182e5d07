import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type ClientOptions, type ConfigSnapshot, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
let dir: string;
const clients: RollcallClient[] = [];
const partners = Array.from({ length: 2000 }, (_, i) => `partner-${i}`);
const inBand = (lo: number, hi: number) => partners.find((p) => positionOf('hooks', p) >= lo && positionOf('hooks', p) < hi)!;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollcall-backup-'));
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 40 }] });
  await live.api('POST', '/v1/rollouts/hooks/start');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await live.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(options: Partial<ClientOptions>): RollcallClient {
  const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, reconnect: { firstMs: 50, maxMs: 100 }, ...options });
  rc.on('error', () => {});
  clients.push(rc);
  return rc;
}

describe('a client whose server is down', () => {
  it('routes from its backup file, written atomically on every change', async () => {
    const backupPath = join(dir, 'rollcall-snapshot.json');
    const first = client({ backupPath });
    await first.ready();
    await live.api('PUT', '/v1/rollouts/hooks/pins/vip', { path: 'old' });
    await waitFor(() => existsSync(backupPath) && readFileSync(backupPath, 'utf8').includes('vip'), 2_000, 'the backup');
    const member = inBand(0, 4000);
    expect(first.path('hooks', member)).toBe('new');
    await first.close();
    await live.stop();

    const started = performance.now();
    const restarted = client({ backupPath });
    await restarted.ready();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(restarted.status.source).toBe('backup');
    expect(restarted.path('hooks', member)).toBe('new');
    expect(restarted.path('hooks', 'vip')).toBe('old');
    // Until a server answers, what came from the backup says it is stale, and how old it is.
    const seen = restarted.evaluate('hooks', member);
    expect(seen).toMatchObject({ path: 'new', stale: true });
    expect(seen.ageMs).toBeGreaterThanOrEqual(0);
    expect(restarted.status).toMatchObject({ source: 'backup', stale: true });
    await live.restart();
    await waitFor(() => restarted.status.source === 'server', 3_000, 'the server snapshot');
    expect(restarted.evaluate('hooks', member)).toMatchObject({ stale: false });
    expect(restarted.status.ageMs).toBeLessThan(1_000);
  });

  it('says how old a backup is: a backup saved two minutes ago is two minutes stale', async () => {
    const backupPath = join(dir, 'old-snapshot.json');
    const snapshot = (await live.api<ConfigSnapshot>('GET', '/v1/sdk/config')).body;
    writeFileSync(backupPath, JSON.stringify({ savedAt: Date.now() - 120_000, snapshot }));
    await live.stop();
    const rc = client({ backupPath });
    await rc.ready();
    const seen = rc.evaluate('hooks', inBand(0, 4000));
    expect(seen.stale).toBe(true);
    expect(seen.ageMs).toBeGreaterThanOrEqual(120_000);
    expect(seen.ageMs).toBeLessThan(130_000);
  });

  it('calls a bootstrap not stale but of unknown age until a server answers', async () => {
    const snapshot = (await live.api<ConfigSnapshot>('GET', '/v1/sdk/config')).body;
    await live.stop();
    const rc = client({ bootstrap: snapshot });
    expect(rc.evaluate('hooks', inBand(0, 4000))).toMatchObject({ stale: false, ageMs: null });
  });

  it('routes from a bootstrap snapshot until the server answers', async () => {
    const snapshot = (await live.api<ConfigSnapshot>('GET', '/v1/sdk/config')).body;
    await live.stop();
    const rc = client({ bootstrap: snapshot });
    expect(rc.path('hooks', inBand(0, 4000))).toBe('new');
    await rc.ready();
    expect(rc.status.source).toBe('bootstrap');
    await live.restart();
    await waitFor(() => rc.status.source === 'server', 3_000, 'the server snapshot');
  });

  it('ignores a bootstrap or backup that is not a snapshot', async () => {
    const rc = client({ bootstrap: { nonsense: true } as never, url: 'http://127.0.0.1:9', initTimeoutMs: 200 });
    await expect(rc.ready()).rejects.toThrow(/no snapshot/);
    expect(rc.path('hooks', 'anyone')).toBe('old');
  });

  it('routes everything to old once the snapshot is older than failClosedAfterMs', async () => {
    const snapshot = (await live.api<ConfigSnapshot>('GET', '/v1/sdk/config')).body;
    await live.stop();
    const rc = client({ bootstrap: snapshot, failClosedAfterMs: 300 });
    const member = inBand(0, 4000);
    expect(rc.path('hooks', member)).toBe('new');
    await waitFor(() => rc.path('hooks', member) === 'old', 2_000, 'fail closed');
    expect(rc.evaluate('hooks', member)).toMatchObject({ path: 'old', stale: true });
    await live.restart();
    await waitFor(() => rc.path('hooks', member) === 'new', 3_000, 'the server to bring it back');
  });
});
