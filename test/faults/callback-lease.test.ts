/**
 * Callbacks after a crash: a server killed with SIGKILL in the middle of an
 * attempt (the receiver is slow) leaves its delivery leased; the restarted
 * server sends it once the lease has run out — within 25 s of the kill, and
 * never while the dead server's attempt could still have been running.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTEMPT_TIMEOUT_MS } from '../../server/callbacks/sender.ts';
import { LEASE_MS } from '../../server/callbacks/worker.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';

const ADMIN = 'callback-lease-admin-key-0123456789abcdefghij';
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function api(s: ServerProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(s.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as any;
}

describe('a delivery leased by a server that dies mid-attempt', () => {
  it('is sent by the restarted server within 25 s of the kill, after the lease and never before it ran out', async () => {
    const { url: dbUrl, dir } = tempDatabaseUrl();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const hook = await startReceiver();
    cleanup.push(() => hook.close());
    hook.answers.push({ status: 200, hang: true }); // the first attempt never gets an answer
    const env = { ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN, ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' };

    const first = await startServer(env);
    cleanup.push(() => first.stop('SIGKILL'));
    const { id } = await api(first, 'POST', '/v1/callbacks', { url: hook.url, events: ['cohort.reverted'] });
    await api(first, 'POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 10 }, { live: 50 }] });
    await api(first, 'POST', '/v1/rollouts/hooks/start');
    await api(first, 'POST', '/v1/rollouts/hooks/revert', { cohort: 'c1', reason: 'silent drops' });
    const [attempt] = await hook.waitFor(1);
    await first.stop('SIGKILL');
    const killedAt = Date.now();

    const second = await startServer(env);
    cleanup.push(() => second.stop('SIGKILL'));
    const [, retry] = await hook.waitFor(2, 40_000);
    const afterKill = retry!.at - killedAt;
    const afterFirst = retry!.at - attempt!.at;
    console.log(`callback after a crash: sent ${afterKill} ms after the SIGKILL, ${afterFirst} ms after the dead server's attempt began (lease ${LEASE_MS} ms)`);
    // The contract: within 25 s of the kill (a lease of 20 s, a 500 ms poll, and the restart).
    expect(afterKill).toBeLessThanOrEqual(25_000);
    // Never two attempts at once: not before the dead server's attempt would have hit its deadline.
    expect(afterFirst).toBeGreaterThan(ATTEMPT_TIMEOUT_MS);
    expect(retry!.headers['webhook-id']).toBe(attempt!.headers['webhook-id']);

    const [delivery] = (await api(second, 'GET', `/v1/callbacks/${id}/deliveries`)).items;
    expect(delivery.status).toBe('succeeded');
    // The dead server recorded nothing; the attempt on record is the one that was answered.
    expect(delivery.attempts.map((a: { status: number }) => a.status)).toEqual([204]);
  }, 60_000);
});
