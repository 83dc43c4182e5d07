/**
 * Callbacks across real server processes: a server killed with SIGKILL after
 * a decision delivers after restart, once; two servers on one database file
 * deliver each attempt once.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '../../helpers/live-server.ts';
import { startReceiver, type Receiver } from '../../helpers/receiver.ts';
import { startServer, type ServerProcess } from '../../helpers/server-process.ts';
import { tempDatabaseUrl } from '../../helpers/test-app.ts';

const ADMIN = 'callback-processes-admin-key-0123456789abcdef';
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function database(): Promise<string> {
  const { url, dir } = tempDatabaseUrl();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return url;
}
async function server(dbUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const s = await startServer({ ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN, ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8', ...env });
  cleanup.push(() => s.stop('SIGKILL'));
  return s;
}
async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanup.push(() => r.close());
  return r;
}
async function api(s: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(s.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const reply = { status: res.status, body: (await res.json()) as any };
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(reply.body)}`);
  return reply;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (r: Receiver) => r.received.map((x) => String(x.headers['webhook-id']));

describe('callbacks and crashes', () => {
  it('a server killed after a revert, before delivering it, delivers after restart, once', async () => {
    const dbUrl = await database();
    const hook = await receiver();
    // This server sends no callbacks (ROLLCALL_CALLBACK_CONCURRENCY=0): it dies with the revert undelivered.
    const first = await server(dbUrl, { ROLLCALL_CALLBACK_CONCURRENCY: '0' });
    const { secret } = (await api(first, 'POST', '/v1/callbacks', { url: hook.url, events: ['cohort.reverted'] })).body;
    await api(first, 'POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 10 }, { live: 50 }] });
    await api(first, 'POST', '/v1/rollouts/hooks/start');
    await api(first, 'POST', '/v1/rollouts/hooks/revert', { cohort: 'c1', reason: 'silent drops' });
    expect(await first.stop('SIGKILL')).toBeNull();
    expect(hook.received).toHaveLength(0);

    await server(dbUrl);
    await hook.waitFor(1);
    await sleep(1_500); // time for a second delivery, were there one
    expect(hook.received).toHaveLength(1);
    const body = new Webhook(secret).verify(hook.received[0]!.body, hook.received[0]!.headers as Record<string, string>) as any;
    expect(body).toMatchObject({ type: 'cohort.reverted', data: { rollout: 'hooks', cohort: 'c1', reason: 'silent drops' } });
  }, 30_000);

  it('a retry scheduled before a SIGKILL is sent after restart with the same webhook-id, once', async () => {
    const dbUrl = await database();
    const hook = await receiver();
    hook.answers.push({ status: 503 });
    const first = await server(dbUrl);
    const { id, secret } = (await api(first, 'POST', '/v1/callbacks', { url: hook.url, events: ['cohort.reverted'] })).body;
    await api(first, 'POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 10 }, { live: 50 }] });
    await api(first, 'POST', '/v1/rollouts/hooks/start');
    await api(first, 'POST', '/v1/rollouts/hooks/revert', { cohort: 'c1', reason: 'silent drops' });
    await waitFor(async () => (await api(first, 'GET', `/v1/callbacks/${id}/deliveries`)).body.items[0]?.lastStatus === 503, 10_000, 'the failed attempt to be recorded');
    await first.stop('SIGKILL');

    const second = await server(dbUrl);
    await hook.waitFor(2, 15_000); // the 5 s retry
    await sleep(1_000);
    expect(ids(hook)).toHaveLength(2);
    expect(ids(hook)[1]).toBe(ids(hook)[0]);
    for (const request of hook.received) expect(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    const [delivery] = (await api(second, 'GET', `/v1/callbacks/${id}/deliveries`)).body.items;
    expect(delivery.status).toBe('succeeded');
    expect(delivery.attempts.map((a: any) => a.status)).toEqual([503, 204]);
  }, 40_000);
});

describe('two server processes on one database file', () => {
  it('deliver each attempt once', async () => {
    const dbUrl = await database();
    const hook = await receiver();
    const a = await server(dbUrl);
    const b = await server(dbUrl);
    const { id } = (await api(a, 'POST', '/v1/callbacks', { url: hook.url })).body;
    // 15 rollouts started, paused and resumed, half through each server: 45 events.
    for (let i = 0; i < 15; i++) {
      const s = i % 2 === 0 ? a : b;
      await api(s, 'POST', '/v1/rollouts', { key: `r${i}`, plan: [{ live: 10 }] });
      await api(s, 'POST', `/v1/rollouts/r${i}/start`);
      await api(s === a ? b : a, 'POST', `/v1/rollouts/r${i}/pause`);
      await api(s, 'POST', `/v1/rollouts/r${i}/resume`);
    }
    await hook.waitFor(45, 20_000);
    await sleep(1_500); // both workers poll several more times
    expect(hook.received).toHaveLength(45);
    expect(new Set(ids(hook)).size).toBe(45);
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await api(b, 'GET', `/v1/callbacks/${id}/deliveries?limit=200${cursor ? `&before=${cursor}` : ''}`)).body;
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(items).toHaveLength(45);
    expect(items.every((d) => d.status === 'succeeded' && d.attempts.length === 1)).toBe(true);
  }, 60_000);
});
