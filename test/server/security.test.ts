import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';
import { startServer } from '../helpers/server-process.ts';
import { createTestApp, tempDatabaseUrl, type TestApp } from '../helpers/test-app.ts';

let t: TestApp | undefined;
let live: LiveServer | undefined;
afterEach(async () => {
  await t?.close();
  await live?.close();
  t = undefined;
  live = undefined;
});

/** GET over a real socket from a chosen loopback source address. */
function getFrom(url: string, localAddress: string, key: string): Promise<{ status: number; retryAfter: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers: { authorization: `Bearer ${key}` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('failed authentication', () => {
  it('is limited per client address: 30 failures a minute, then 429 with Retry-After, other addresses unaffected', async () => {
    live = await startLiveServer();
    const url = `${live.url}/v1/rollouts`;
    for (let i = 0; i < 30; i++) expect((await getFrom(url, '127.0.0.2', `rc_admin_guess-${i}-0123456789abcdef`)).status).toBe(401);
    const limited = await getFrom(url, '127.0.0.2', 'rc_admin_one-more-guess-0123456789abcdef');
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ error: { code: 'too_many_failed_attempts' } });
    // While limited, that address is refused whatever it sends; another address is not.
    expect((await getFrom(url, '127.0.0.2', live.adminKey)).status).toBe(429);
    expect((await getFrom(url, '127.0.0.3', live.adminKey)).status).toBe(200);
    expect((await getFrom(url, '127.0.0.3', 'rc_admin_wrong-0123456789abcdefgh')).status).toBe(401);
  });

  it('lets the address in again once the window has passed, and never counts successes', async () => {
    t = await createTestApp();
    for (let i = 0; i < 100; i++) expect((await t.call('GET', '/v1/rollouts')).status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await t.call('GET', '/v1/rollouts', { key: `rc_read_bad-${i}-0123456789abcdef` })).status).toBe(401);
    expect((await t.call('GET', '/v1/rollouts')).status).toBe(429);
    expect((await t.call('GET', '/metrics')).status).toBe(429);
    t.clock.advance(60_000);
    expect((await t.call('GET', '/v1/rollouts')).status).toBe(200);
  });

  it('limits dashboard sign-in the same way, with a page that says so', async () => {
    t = await createTestApp();
    const signIn = (key: string) =>
      t!.rollcall.app.request('/login', { method: 'POST', headers: { origin: 'http://localhost', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key }).toString() });
    for (let i = 0; i < 30; i++) expect((await signIn(`rc_read_bad-${i}-0123456789abcdef`)).status).toBe(401);
    const limited = await signIn(t.keys.read);
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('too many failed sign-ins');
    expect(limited.headers.get('retry-after')).toBe('60');
  });
});

describe('logs', () => {
  it('never carry a key, a callback secret or a payload value', async () => {
    const { url, dir } = tempDatabaseUrl();
    const admin = 'logs-admin-key-0123456789abcdefghijklmnopq';
    const server = await startServer({ ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: admin });
    try {
      const call = (method: string, path: string, body?: unknown, key = admin) =>
        fetch(server.url + path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      const sdkKey = (await call('POST', '/v1/keys', { kind: 'sdk', name: 'svc' })).body.key as string;
      const secret = (await call('POST', '/v1/callbacks', { url: 'https://hooks.example.com/secret-path' })).body.secret as string;
      await call('POST', '/v1/rollouts', { key: 'r', plan: [{ live: 50 }], description: 'payload-marker-7d1f' });
      await call('POST', '/v1/rollouts/r/start');
      await call('GET', '/v1/rollouts', undefined, 'rc_admin_wrong-key-marker-0123456789ab');
      await call('POST', '/v1/sdk/reports', { batchId: 'b1', sdk: { name: 'x', version: '1', instanceId: 'i' }, sentAt: Date.now(), counts: [], messages: [{ rollout: 'r', messageId: 'msg-marker-42', partnerId: 'partner-marker-9', cohort: 'c1', path: 'new', status: 'failed', at: Date.now(), error: 'card 4111-1111' }], mismatches: [], noise: [] }, sdkKey);
      await call('POST', '/v1/sdk/reports', '{not json', sdkKey);
      await call('PATCH', '/v1/rollouts/r', { description: 1 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const output = server.output();
      for (const value of [admin, sdkKey, secret, secret.slice(6), 'wrong-key-marker', 'payload-marker-7d1f', 'msg-marker-42', 'partner-marker-9', '4111-1111']) {
        expect(output, value).not.toContain(value);
      }
    } finally {
      await server.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
