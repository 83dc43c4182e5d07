/**
 * The shared libsql server goes away under load and comes back: three
 * Rollcall servers on one sqld, six SDKs spread over them reporting a healthy
 * cohort, sqld killed (SIGKILL) for several grace periods and started again on
 * the same data. While it is down every server answers 503 and is not ready;
 * afterwards every message is counted exactly once and nothing was reverted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { waitFor } from '../helpers/live-server.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startSqld, type Sqld } from '../helpers/sqld.ts';

const ADMIN = 'sqld-outage-admin-key-0123456789abcdefghij';
const GRACE_SECONDS = 2;
let sqld: Sqld;
const servers: ServerProcess[] = [];
const clients: RollcallClient[] = [];
const errors: number[] = [];

const env = (url: string) => ({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN });
async function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}
const ready = async (server: ServerProcess) => (await fetch(`${server.url}/readyz`)).status;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  sqld = await startSqld();
  servers.push(await startServer(env(sqld.url)));
  servers.push(...(await Promise.all([startServer(env(sqld.url)), startServer(env(sqld.url))])));
  const sdkKey = (await api(servers[0]!, 'POST', '/v1/keys', { kind: 'sdk', name: 'outage' })).body.key;
  expect((await api(servers[0]!, 'POST', '/v1/rollouts', { key: 'outage', plan: [{ live: 50 }], guards: { graceSeconds: GRACE_SECONDS, minSample: 20 } })).status).toBe(201);
  expect((await api(servers[1]!, 'POST', '/v1/rollouts/outage/start')).status).toBe(200);
  for (let i = 0; i < 6; i++) {
    const client = createClient({ url: servers[i % 3]!.url, sdkKey, retry: { firstMs: 200, maxMs: 1_000 }, maxBufferedEvents: 200_000, logger: { warn() {}, error() {} } });
    client.on('error', (error) => errors.push((error as { status?: number }).status ?? 0));
    clients.push(client);
  }
  await Promise.all(clients.map((c) => c.ready()));
}, 60_000);

afterAll(async () => {
  // Processes first, so that nothing outlives a failed run; the clients' last flush then fails fast.
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await sqld?.stop();
  await Promise.all(clients.map((c) => c.close()));
}, 30_000);

describe('sqld killed under load and started again', () => {
  it('answers 503 and not-ready while it is down, then counts every message once and reverts nothing', async () => {
    let sent = 0;
    let running = true;
    // Each SDK receives and processes 20 messages every 50 ms, half of them in c1 (live), half on the baseline.
    const load = (async () => {
      while (running) {
        clients.forEach((client, c) => {
          for (let i = 0; i < 20; i++) {
            const message = { partnerId: `partner-${(sent + i) % 500}`, messageId: `m-${c}-${sent + i}` };
            client.received('outage', message);
            client.processed('outage', message);
          }
        });
        sent += 20;
        await sleep(50);
      }
    })();

    await sleep(1_500);
    await sqld.kill();
    await waitFor(async () => (await Promise.all(servers.map(ready))).every((status) => status === 503), 10_000, 'every server to be not ready');
    await waitFor(() => errors.includes(503), 10_000, 'an SDK report answered 503');
    const refused = await api(servers[2]!, 'GET', '/v1/rollouts/outage');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('storage_unavailable');
    expect((await fetch(`${servers[0]!.url}/healthz`)).status).toBe(200);
    await sleep(GRACE_SECONDS * 2 * 1000);

    await sqld.restart();
    await waitFor(async () => (await Promise.all(servers.map(ready))).every((status) => status === 200), 20_000, 'every server to be ready again');
    running = false;
    await load;
    const total = sent * clients.length;
    await waitFor(
      async () => {
        await Promise.all(clients.map((c) => c.flush()));
        return clients.every((c) => c.status.buffered === 0);
      },
      30_000,
      'every SDK to deliver what it buffered',
    );
    expect(clients.map((c) => c.status.dropped)).toEqual([0, 0, 0, 0, 0, 0]);

    const health = await api(servers[0]!, 'GET', '/v1/rollouts/outage/health?window=3600');
    expect(health.status).toBe(200);
    const cohorts = health.body.cohorts as { cohort: string; received: number; processed: number; lost: number }[];
    expect(cohorts.reduce((sum, c) => sum + c.received, 0)).toBe(total);
    expect(cohorts.reduce((sum, c) => sum + c.processed, 0)).toBe(total);
    expect(cohorts.reduce((sum, c) => sum + c.lost, 0)).toBe(0);

    await sleep(1_500); // every controller ticks again on the complete figures
    const rollout = await api(servers[1]!, 'GET', '/v1/rollouts/outage');
    expect(rollout.body).toMatchObject({ state: 'running', cohorts: [{ name: 'c1', status: 'active' }] });
    const actions = ((await api(servers[2]!, 'GET', '/v1/audit?rollout=outage')).body.items as { action: string }[]).map((e) => e.action);
    expect(actions).not.toContain('guard.breached');
    expect(actions).not.toContain('cohort.reverted');
    for (const server of servers) expect(server.child.exitCode).toBeNull();
  }, 90_000);
});
