import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import { waitFor } from '../../helpers/live-server.ts';
import { startReceiver } from '../../helpers/receiver.ts';
import { startServer, type ServerProcess } from '../../helpers/server-process.ts';
import { tempDatabaseUrl } from '../../helpers/test-app.ts';

const ADMIN = 'two-servers-admin-key-0123456789abcdefghijkl';
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const api = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};

describe('two server processes on one database file', () => {
  it('decide once: one breach gives one revert, one audit entry and one callback', async () => {
    const { url, dir } = tempDatabaseUrl();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN, ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' };
    const a = await startServer(env);
    cleanup.push(() => a.stop('SIGKILL'));
    const b = await startServer(env);
    cleanup.push(() => b.stop('SIGKILL'));
    const hook = await startReceiver();
    cleanup.push(() => hook.close());
    expect((await api(b, 'POST', '/v1/callbacks', { url: hook.url, events: ['guard.breached', 'cohort.reverted'] })).status).toBe(201);

    expect((await api(a, 'POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } })).status).toBe(201);
    expect((await api(b, 'POST', '/v1/rollouts/hooks/start')).status).toBe(200);
    const sdkKey = (await api(a, 'POST', '/v1/keys', { kind: 'sdk', name: 'svc' })).body.key as string;

    // One SDK on each server: both hear of the decision, whichever server made it.
    const clients: RollcallClient[] = [a, b].map((server) => createClient({ url: server.url, sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} } }));
    cleanup.push(() => Promise.all(clients.map((c) => c.close())));
    await Promise.all(clients.map((c) => c.ready()));
    const members = Array.from({ length: 3000 }, (_, i) => `p${i}`).filter((p) => positionOf('hooks', p) < 5000);
    for (let i = 0; i < 60; i++) {
      const message = { partnerId: members[i]!, messageId: `m${i}` };
      clients[i % 2]!.received('hooks', message);
      if (i % 5 !== 0) clients[i % 2]!.processed('hooks', message);
    }
    await Promise.all(clients.map((c) => c.flush()));
    await waitFor(() => clients.every((c) => c.path('hooks', members[0]!) === 'old'), 8_000, 'both SDKs to route old');
    await hook.waitFor(2, 8_000);
    // Give both controllers (and both callback workers) several more ticks to try again.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const audit = (await api(b, 'GET', '/v1/audit?rollout=hooks')).body.items as { action: string; actor: string }[];
    expect(audit.filter((e) => e.action === 'guard.breached')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'cohort.reverted')).toHaveLength(1);
    expect(hook.received.map((r) => JSON.parse(r.body).type).sort()).toEqual(['cohort.reverted', 'guard.breached']);
    expect((await api(a, 'GET', '/v1/rollouts/hooks')).body).toMatchObject({ state: 'paused', version: 3, cohorts: [{ status: 'reverted' }] });
  }, 30_000);
});
