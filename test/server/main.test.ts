import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { runServer, startServer, type ServerProcess } from '../helpers/server-process.ts';

const ADMIN = 'process-test-admin-key-0123456789abcdefghij';
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempDb() {
  const { url, dir } = tempDatabaseUrl();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return { url, dir };
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer(env);
  cleanup.push(() => server.stop('SIGKILL'));
  return server;
}

const api = (server: ServerProcess, path: string, init: RequestInit = {}) =>
  fetch(server.url + path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...init.headers } });

describe('the server process', () => {
  it('serves the API over HTTP on a fresh database file and stops cleanly on SIGTERM', async () => {
    const { url } = tempDb();
    const server = await start({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN });
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const created = await api(server, '/v1/rollouts', { method: 'POST', body: JSON.stringify({ key: 'psa-webhooks-v2', plan: [{ live: 0, shadow: 10 }, { live: 5 }] }) });
    expect(created.status).toBe(201);
    expect((await api(server, '/v1/rollouts/psa-webhooks-v2/start', { method: 'POST' })).status).toBe(200);
    const key = (await (await api(server, '/v1/keys', { method: 'POST', body: JSON.stringify({ kind: 'sdk', name: 'svc' }) })).json()) as { key: string };
    const config = await fetch(`${server.url}/v1/sdk/config`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(config.status).toBe(200);
    expect(((await config.json()) as { rollouts: unknown[] }).rollouts[0]).toMatchObject({ key: 'psa-webhooks-v2', state: 'running', shadow: 1000 });
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output()).toContain('stopped');
    expect(server.output()).not.toContain(ADMIN);
    expect(server.output()).not.toContain(key.key);
  });

  it('keeps its data across restarts on the same file', async () => {
    const { url } = tempDb();
    const first = await start({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN });
    await api(first, '/v1/rollouts', { method: 'POST', body: JSON.stringify({ key: 'kept', plan: [{ live: 1 }] }) });
    expect(await first.stop()).toBe(0);
    const second = await start({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN });
    expect((await api(second, '/v1/rollouts/kept')).status).toBe(200);
  });

  it('generates and prints an admin key once when none exists', async () => {
    const { url } = tempDb();
    const first = await start({ ROLLCALL_DB_URL: url });
    const printed = /(rc_admin_[0-9A-Za-z]{38})/.exec(first.output())?.[1];
    expect(printed).toBeDefined();
    expect((await fetch(`${first.url}/v1/keys`, { headers: { authorization: `Bearer ${printed}` } })).status).toBe(200);
    await first.stop();
    const second = await start({ ROLLCALL_DB_URL: url });
    expect(second.output()).not.toMatch(/rc_admin_/);
  });

  it('creates the database directory for a file that does not exist yet', async () => {
    const { dir } = tempDb();
    const server = await start({ ROLLCALL_DB_URL: `file:${join(dir, 'nested', 'deeper', 'rollcall.db')}`, ROLLCALL_ADMIN_KEY: ADMIN });
    expect((await api(server, '/v1/rollouts')).status).toBe(200);
  });

  it('stops at start with a message naming a bad variable', async () => {
    const { child, output, exited } = runServer({ PORT: 'eighty' });
    cleanup.push(() => void child.kill('SIGKILL'));
    expect(await exited).toBe(1);
    expect(output()).toMatch(/PORT: must be a whole number/);
  });
});
