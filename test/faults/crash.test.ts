/**
 * Crash safety: the server is killed with SIGKILL again and again while SDKs
 * send reports and the controller reverts, and restarted on the same database
 * file. Every report the SDKs sent is counted once, every decided callback is
 * delivered, and every rollout is in a state the transition rules allow.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createClient as createDb, type Client } from '@libsql/client';
import { afterAll, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { waitFor } from '../helpers/live-server.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';

const ADMIN = 'crash-admin-key-0123456789abcdefghijklmnopqr';
const KILLS = 6;
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('SIGKILL during reports, reverts and callbacks', () => {
  it('loses nothing acknowledged, counts nothing twice, delivers every decided callback, and leaves only allowed states', async () => {
    const { url: dbUrl, dir } = tempDatabaseUrl();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const hook: Receiver = await startReceiver();
    cleanup.push(() => hook.close());
    const env = { ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN, ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8', PORT: String(port) };
    let server: ServerProcess = await startServer(env);
    cleanup.push(() => server.stop('SIGKILL'));
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    await api('POST', '/v1/callbacks', { url: hook.url });
    const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'svc' })).body.key as string;
    const keys = ['steady', 'doomed-1', 'doomed-2', 'doomed-3'];
    for (const key of keys) {
      await api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }, { live: 100 }], guards: { graceSeconds: 1, minSample: 20 } });
      await api('POST', `/v1/rollouts/${key}/start`);
    }

    const quiet = { warn() {}, error() {} };
    const clients: RollcallClient[] = Array.from({ length: 3 }, () =>
      createClient({ url: server.url, sdkKey, flushIntervalMs: 100, logger: quiet, retry: { firstMs: 50, maxMs: 300 }, reconnect: { firstMs: 50, maxMs: 300 }, initTimeoutMs: 10_000 }),
    );
    cleanup.push(() => Promise.all(clients.map((c) => c.close())));
    await Promise.all(clients.map((c) => c.ready()));

    // Steady traffic on every rollout; each `doomed-n` starts losing messages after kill n.
    const sent = { received: 0, processed: 0 };
    let seq = 0;
    let losing = 0;
    const partners = Array.from({ length: 500 }, (_, i) => `partner-${i}`);
    const traffic = setInterval(() => {
      for (const client of clients) {
        for (const key of keys) {
          for (let i = 0; i < 3; i++) {
            const partnerId = partners[seq % partners.length]!;
            const message = { partnerId, messageId: `m-${++seq}` };
            client.received(key, message);
            sent.received++;
            const doomed = key !== 'steady' && Number(key.slice(-1)) <= losing && positionOf(key, partnerId) < 5000;
            if (doomed && seq % 4 === 0) continue; // lost on the new path
            client.processed(key, message);
            sent.processed++;
          }
        }
      }
    }, 25);

    let kills = 0;
    for (let k = 1; k <= KILLS; k++) {
      await new Promise((resolve) => setTimeout(resolve, 700 + (k % 3) * 300));
      if (k <= 3) losing = k;
      await server.stop('SIGKILL');
      kills++;
      await new Promise((resolve) => setTimeout(resolve, 150));
      server = await startServer(env);
    }
    clearInterval(traffic);

    // Everything the SDKs still hold goes out to the last server.
    await waitFor(async () => {
      await Promise.all(clients.map((c) => c.flush()));
      return clients.every((c) => c.status.buffered === 0);
    }, 20_000, 'the SDKs to have sent everything');
    for (const c of clients) expect(c.status.dropped).toBe(0);

    // Every count row of every rollout, cohort and path, straight from the database file.
    const totals = await query(async (db) => {
      const row = (await db.execute('SELECT sum(received) received, sum(processed) processed FROM cohort_counts')).rows[0]!;
      return { received: Number(row.received), processed: Number(row.processed) };
    });
    // Counted once: a batch retried after a kill is recognised by its id.
    expect(totals).toEqual(sent);

    // Every doomed rollout was reverted by its guard, once; the steady one never.
    await waitFor(async () => {
      for (const key of keys.slice(1)) if ((await api('GET', `/v1/rollouts/${key}`)).body.cohorts[0].status !== 'reverted') return false;
      return true;
    }, 20_000, 'every doomed rollout to be reverted');
    for (const key of keys.slice(1)) {
      const actions = ((await api('GET', `/v1/audit?rollout=${key}`)).body.items as { action: string }[]).map((e) => e.action);
      expect(actions.filter((a) => a === 'cohort.reverted'), key).toHaveLength(1);
    }
    expect((await api('GET', '/v1/rollouts/steady')).body).toMatchObject({ state: 'running', cohorts: [{ status: 'active' }] });

    // Every decided callback arrives (at least once; receivers dedupe by webhook-id).
    await waitFor(async () => {
      const outbox = await fetchOutbox();
      const delivered = new Set(hook.received.map((r) => String(r.headers['webhook-id'])));
      return outbox.every((id) => delivered.has(id));
    }, 30_000, 'every decided callback to be delivered');

    // States the transition rules allow: running or paused at a step of the plan, cohorts as contiguous bands.
    for (const key of keys) {
      const rollout = (await api('GET', `/v1/rollouts/${key}`)).body;
      expect(['running', 'paused']).toContain(rollout.state);
      expect(rollout.step).toBeGreaterThanOrEqual(0);
      expect(rollout.step).toBeLessThan(rollout.plan.length);
      rollout.cohorts.forEach((c: any, i: number) => {
        expect(c.name).toBe(`c${i + 1}`);
        expect(c.from).toBe(i === 0 ? 0 : rollout.cohorts[i - 1].to);
      });
      if (rollout.cohorts.some((c: any) => c.status === 'reverted' && c.revertKind === 'breach')) expect(rollout.state).toBe('paused');
    }
    console.log(`crash: ${kills} SIGKILLs and restarts; ${sent.received} messages received, ${sent.processed} processed, all counted once; ${hook.received.length} callback requests`);

    async function fetchOutbox(): Promise<string[]> {
      return query(async (db) => (await db.execute('SELECT id FROM callback_messages')).rows.map((r) => String(r.id)));
    }

    async function query<T>(fn: (db: Client) => Promise<T>): Promise<T> {
      const db = createDb({ url: dbUrl });
      try {
        return await fn(db);
      } finally {
        db.close();
      }
    }
  }, 120_000);
});
