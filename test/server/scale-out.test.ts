/**
 * Several Rollcall servers behind one real libsql server (sqld) on loopback:
 * SDKs spread over the servers; one breach gives one revert, one callback,
 * and every SDK switched; with the server running the controller killed,
 * another takes over and keeps controlling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { waitFor } from '../helpers/live-server.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { startSqld, type Sqld } from '../helpers/sqld.ts';

const ADMIN = 'scale-out-admin-key-0123456789abcdefghijklm';
let sqld: Sqld;
let servers: ServerProcess[] = [];
let hook: Receiver;
let sdkKey: string;
const clients: RollcallClient[] = [];

async function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Partners inside the first `bp` basis points of `rollout`. */
const members = (rollout: string, bp: number) => Array.from({ length: 4000 }, (_, i) => `partner-${i}`).filter((p) => positionOf(rollout, p) < bp);

/** Each client reports 30 messages of cohort c1; one in five never settles. */
async function divergeFrom(rollout: string, using: RollcallClient[]): Promise<void> {
  const partners = members(rollout, 5000);
  using.forEach((client, c) => {
    for (let i = 0; i < 30; i++) {
      const message = { partnerId: partners[(c * 30 + i) % partners.length]!, messageId: `${rollout}-${c}-${i}` };
      client.received(rollout, message);
      if (i % 5 !== 0) client.processed(rollout, message);
    }
  });
  await Promise.all(using.map((c) => c.flush()));
}

const env = (url: string) => ({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN, ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' });
const audit = async (server: ServerProcess, rollout: string) => ((await api(server, 'GET', `/v1/audit?rollout=${rollout}`)).body.items as { action: string }[]).map((e) => e.action);
const callbacksOf = (rollout: string) => hook.received.map((r) => JSON.parse(r.body)).filter((b) => b.data.rollout === rollout).map((b) => b.type).sort();

beforeAll(async () => {
  sqld = await startSqld();
  // The first server migrates the database; the others start on the migrated schema.
  servers.push(await startServer(env(sqld.url)));
  servers.push(...(await Promise.all([startServer(env(sqld.url)), startServer(env(sqld.url))])));
  hook = await startReceiver();
  expect((await api(servers[1]!, 'POST', '/v1/callbacks', { url: hook.url, events: ['guard.breached', 'cohort.reverted'] })).status).toBe(201);
  sdkKey = (await api(servers[2]!, 'POST', '/v1/keys', { kind: 'sdk', name: 'spread' })).body.key;
  for (let i = 0; i < 6; i++) clients.push(createClient({ url: servers[i % 3]!.url, sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} } }));
  await Promise.all(clients.map((c) => c.ready()));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await hook?.close();
  await sqld?.stop();
});

describe('three servers on one sqld', () => {
  it('decide a breach once: one revert, one callback of each kind, every SDK switched', async () => {
    expect((await api(servers[0]!, 'POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } })).status).toBe(201);
    expect((await api(servers[1]!, 'POST', '/v1/rollouts/hooks/start')).status).toBe(200);
    const partner = members('hooks', 5000)[0]!;
    await waitFor(() => clients.every((c) => c.path('hooks', partner) === 'new'), 8_000, 'every SDK to route c1 to new');
    await divergeFrom('hooks', clients);
    await waitFor(() => clients.every((c) => c.path('hooks', partner) === 'old'), 15_000, 'every SDK to route c1 back to old');
    await hook.waitFor(2, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // every controller ticks several more times
    const actions = await audit(servers[2]!, 'hooks');
    expect(actions.filter((a) => a === 'guard.breached')).toHaveLength(1);
    expect(actions.filter((a) => a === 'cohort.reverted')).toHaveLength(1);
    expect(callbacksOf('hooks')).toEqual(['cohort.reverted', 'guard.breached']);
    for (const server of servers) expect((await api(server, 'GET', '/v1/rollouts/hooks')).body).toMatchObject({ state: 'paused', cohorts: [{ status: 'reverted' }] });
  }, 60_000);

  it('keeps controlling with the server holding the controller lease killed', async () => {
    const leading = await Promise.all(servers.map(async (server) => {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      return /^rollcall_controller_leading 1$/m.test(text);
    }));
    expect(leading.filter(Boolean)).toHaveLength(1);
    const k = leading.indexOf(true);
    await servers[k]!.stop('SIGKILL');
    const alive = clients.filter((_, i) => i % 3 !== k);
    const other = servers[(k + 1) % 3]!;
    expect((await api(other, 'POST', '/v1/rollouts', { key: 'hooks-2', plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } })).status).toBe(201);
    expect((await api(other, 'POST', '/v1/rollouts/hooks-2/start')).status).toBe(200);
    const partner = members('hooks-2', 5000)[0]!;
    await waitFor(() => alive.every((c) => c.path('hooks-2', partner) === 'new'), 8_000, 'the SDKs of the live servers to route c1 to new');
    await divergeFrom('hooks-2', alive);
    await waitFor(() => alive.every((c) => c.path('hooks-2', partner) === 'old'), 15_000, 'the SDKs of the live servers to route c1 back to old');
    await hook.waitFor(4, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const actions = await audit(other, 'hooks-2');
    expect(actions.filter((a) => a === 'cohort.reverted')).toHaveLength(1);
    expect(callbacksOf('hooks-2')).toEqual(['cohort.reverted', 'guard.breached']);
  }, 60_000);
});
