/**
 * Two Rollcall servers on one real libsql server (sqld), SDKs on both, and
 * one cohort reverted and brought back many times while the SDKs route
 * partners: at the end every SDK holds exactly the snapshot both servers
 * serve (same content, same ETag), and every partner's path agrees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { waitFor } from '../helpers/live-server.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startSqld, type Sqld } from '../helpers/sqld.ts';

const ADMIN = 'snapshot-stress-admin-key-0123456789abcdefgh';
let sqld: Sqld;
const servers: ServerProcess[] = [];
const clients: RollcallClient[] = [];

async function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as any };
}

const env = (url: string) => ({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN });
const partners = Array.from({ length: 400 }, (_, i) => `partner-${i}`);

beforeAll(async () => {
  sqld = await startSqld();
  servers.push(await startServer(env(sqld.url)));
  servers.push(await startServer(env(sqld.url)));
  const sdkKey = (await api(servers[0]!, 'POST', '/v1/keys', { kind: 'sdk', name: 'stress' })).body.key;
  for (let i = 0; i < 4; i++) clients.push(createClient({ url: servers[i % 2]!.url, sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} } }));
  await Promise.all(clients.map((c) => c.ready()));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await sqld?.stop();
});

describe('snapshots under a storm of changes on two servers', () => {
  it('leaves every SDK on the committed snapshot, with every partner routed alike', async () => {
    expect((await api(servers[0]!, 'POST', '/v1/rollouts', { key: 'storm', plan: [{ live: 50 }] })).status).toBe(201);
    expect((await api(servers[1]!, 'POST', '/v1/rollouts/storm/start')).status).toBe(200);
    await waitFor(async () => clients.every((c) => c.snapshot?.rollouts.some((r) => r.key === 'storm' && r.state === 'running')), 5_000, 'every SDK to see the rollout');

    // Partners are routed all along, as a service would, while the cohort flips.
    let routing = true;
    let evaluations = 0;
    const router = (async () => {
      while (routing) {
        for (const c of clients) for (const p of partners) if (c.path('storm', p) !== 'shadow') evaluations++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const cycles = 25;
    for (let i = 0; i < cycles; i++) {
      const server = servers[i % 2]!;
      expect((await api(server, 'POST', '/v1/rollouts/storm/revert', { cohort: 'c1', reason: `storm ${i}` })).status).toBe(200);
      expect((await api(servers[(i + 1) % 2]!, 'POST', '/v1/rollouts/storm/resume', { cohorts: ['c1'], reason: `calm ${i}` })).status).toBe(200);
    }
    // The last word: c1 reverted.
    expect((await api(servers[0]!, 'POST', '/v1/rollouts/storm/revert', { cohort: 'c1', reason: 'the end' })).status).toBe(200);

    await waitFor(async () => clients.every((c) => c.snapshot?.rollouts.find((r) => r.key === 'storm')?.cohorts[0]?.status === 'reverted'), 3_000, 'every SDK to hold the last revert');
    routing = false;
    await router;
    expect(evaluations).toBeGreaterThan(0);

    // Both servers serve one snapshot (one ETag), and every SDK holds exactly it.
    const configs = await Promise.all(servers.map((s) => api(s, 'GET', '/v1/rollouts/storm')));
    expect(configs[0]!.body.version).toBe(configs[1]!.body.version);
    const key = (await api(servers[0]!, 'POST', '/v1/keys', { kind: 'sdk', name: 'reader' })).body.key as string;
    const snapshots = await Promise.all(servers.map(async (s) => {
      const res = await fetch(`${s.url}/v1/sdk/config`, { headers: { authorization: `Bearer ${key}` } });
      return { etag: res.headers.get('etag'), body: (await res.json()) as any };
    }));
    expect(snapshots[0]!.etag).toBe(snapshots[1]!.etag);
    for (const c of clients) expect(c.snapshot).toEqual(snapshots[0]!.body);
    const c1 = partners.filter((p) => positionOf('storm', p) < 5000);
    expect(c1.length).toBeGreaterThan(0);
    for (const p of partners) {
      const paths = new Set(clients.map((c) => c.path('storm', p)));
      expect(paths).toEqual(new Set(['old']));
    }
    expect(snapshots[0]!.body.rollouts[0].cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted' });
  }, 90_000);
});
