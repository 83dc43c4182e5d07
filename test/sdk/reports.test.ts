import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
const clients: RollcallClient[] = [];

beforeEach(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'jobs', plan: [{ live: 100 }] });
  await live.api('POST', '/v1/rollouts/jobs/start');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await live.close();
});

async function client(options: Partial<ClientOptions> = {}) {
  const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 60_000, retry: { firstMs: 20, maxMs: 50 }, ...options });
  clients.push(rc);
  await rc.ready();
  return rc;
}

async function totals() {
  const rows = await live.database.client.execute(
    'SELECT coalesce(sum(received),0) received, coalesce(sum(processed),0) processed, coalesce(sum(failed),0) failed, coalesce(sum(dropped),0) dropped FROM cohort_counts',
  );
  return { ...rows.rows[0] };
}
const ledger = async () => (await live.database.client.execute('SELECT message_id, status FROM messages ORDER BY message_id')).rows.map((r) => ({ ...r }));
const isReport = (input: unknown) => String(input).endsWith('/v1/sdk/reports');

describe('reports', () => {
  it('retries a batch whose answer was lost, and the server counts it once', async () => {
    let reportsSeen = 0;
    const rc = await client({
      fetch: async (input, init) => {
        if (!isReport(input)) return fetch(input, init);
        reportsSeen++;
        const res = await fetch(input, init);
        if (reportsSeen === 1) throw new TypeError('connection reset after the server committed');
        return res;
      },
    });
    for (let i = 0; i < 25; i++) await rc.run('jobs', { partnerId: `p${i}`, messageId: `m${i}` }, { old: () => 0, new: () => i });
    rc.received('jobs', { partnerId: 'p', messageId: 'still-open' });
    await rc.flush();
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 2_000, 'the retry');
    expect(reportsSeen).toBeGreaterThanOrEqual(2);
    expect(await totals()).toEqual({ received: 26, processed: 25, failed: 0, dropped: 0 });
    expect(await ledger()).toEqual([{ message_id: 'still-open', status: 'open' }]);
  });

  it('counts what overflows the buffer as dropped, warns once, and reports it', async () => {
    let serverUp = false;
    const warnings: string[] = [];
    const rc = await client({
      maxBufferedEvents: 5,
      logger: { warn: (m) => warnings.push(m), error() {} },
      fetch: (input, init) => (isReport(input) && !serverUp ? Promise.reject(new TypeError('connection refused')) : fetch(input, init)),
    });
    rc.on('error', () => {});
    for (let i = 0; i < 20; i++) {
      await rc.run('jobs', { partnerId: `p${i}`, messageId: `f${i}` }, { old: () => 0, new: () => Promise.reject(new Error('bad')) }).catch(() => undefined);
    }
    expect(rc.status.dropped).toBe(15);
    expect(warnings.filter((w) => w.includes('dropped'))).toHaveLength(1);
    serverUp = true;
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 2_000, 'the backlog to go out');
    expect(await totals()).toEqual({ received: 20, processed: 0, failed: 20, dropped: 15 });
    expect((await ledger()).length).toBe(5);
  });

  it('delivers everything once a server that was down for a while comes back', async () => {
    const rc = await client();
    rc.on('error', () => {});
    await live.stop();
    for (let i = 0; i < 40; i++) {
      await rc.run('jobs', { partnerId: `p${i}`, messageId: `d${i}` }, { old: () => 0, new: () => (i % 10 === 0 ? Promise.reject(new Error('x')) : i) }).catch(() => undefined);
      if (i % 10 === 0) await rc.flush(); // several batches queue up while it is down
    }
    rc.received('jobs', { partnerId: 'p', messageId: 'open-while-down' });
    await rc.flush();
    expect(rc.status.buffered).toBeGreaterThan(0);
    await live.restart();
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 3_000, 'the backlog to go out');
    expect(await totals()).toEqual({ received: 41, processed: 36, failed: 4, dropped: 0 });
    expect((await ledger()).map((r) => r.status).sort()).toEqual(['failed', 'failed', 'failed', 'failed', 'open']);
  });

  it('sends gzip-compressed batches with an id and the SDK identity', async () => {
    const bodies: { headers: Headers; batch: any }[] = [];
    const { gunzipSync } = await import('node:zlib');
    const rc = await client({
      fetch: async (input, init) => {
        if (isReport(input)) bodies.push({ headers: new Headers(init?.headers), batch: JSON.parse(gunzipSync(init!.body as Buffer).toString()) });
        return fetch(input, init);
      },
    });
    await rc.run('jobs', { partnerId: 'p', messageId: 'x' }, { old: () => 0, new: () => 1 });
    await rc.flush();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.headers.get('content-encoding')).toBe('gzip');
    expect(bodies[0]!.batch).toMatchObject({ sdk: { name: 'rollcall-node', instanceId: expect.any(String) }, counts: [{ rollout: 'jobs', cohort: 'c1', path: 'new', received: 1, processed: 1 }] });
    expect(bodies[0]!.batch.batchId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('count buckets', () => {
  it('put counts in the second of their first event, never in an earlier second of the window', async () => {
    const { gunzipSync } = await import('node:zlib');
    const batches: any[] = [];
    const rc = await client({
      flushIntervalMs: 60_000,
      fetch: async (input, init) => {
        if (isReport(input)) batches.push(JSON.parse(gunzipSync(init!.body as Buffer).toString()));
        return fetch(input, init);
      },
    });
    await rc.flush(); // the window starts now…
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // …and the first event comes in a later second
    const at = Date.now();
    rc.received('jobs', { partnerId: 'p', messageId: 'late-in-window' });
    rc.processed('jobs', { partnerId: 'p', messageId: 'late-in-window' });
    await rc.flush();
    const row = batches.flatMap((b) => b.counts).find((c: any) => c.rollout === 'jobs');
    expect(row.second).toBe(Math.floor(at / 1000));
  });
});
