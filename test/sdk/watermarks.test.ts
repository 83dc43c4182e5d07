import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type RollcallClient } from '../../sdk/src/index.ts';
import type { ReportBatch } from '@rollcall/protocol';
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

/** A client whose reports are recorded as sent (and refused while `down`). */
async function client(options: Partial<ClientOptions> = {}) {
  const sent: ReportBatch[] = [];
  const net = { down: false };
  const rc = createClient({
    url: live.url,
    sdkKey: live.sdkKey,
    logger: quiet,
    flushIntervalMs: 60_000,
    retry: { firstMs: 20, maxMs: 50 },
    ...options,
    fetch: async (input, init) => {
      if (String(input).endsWith('/v1/sdk/reports')) {
        if (net.down) throw new TypeError('fetch failed');
        sent.push(JSON.parse(gunzipSync(init!.body as Buffer).toString()));
      }
      return fetch(input, init);
    },
  });
  clients.push(rc);
  await rc.ready();
  return { rc, sent, net };
}

const reporterRows = async () => (await live.database.client.execute('SELECT instance_id, watermark, left_at, gone_at FROM reporters')).rows.map((r) => ({ ...r }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('watermarks', () => {
  it('sends nothing until it has reported something, then a watermark-only heartbeat every flush, each later than the last', async () => {
    const { rc, sent } = await client();
    await rc.flush();
    expect(sent).toHaveLength(0);
    await rc.run('jobs', { partnerId: 'p', messageId: 'm' }, { old: () => 0, new: () => 1 });
    await rc.flush();
    await sleep(5);
    await rc.flush();
    await sleep(5);
    await rc.flush();
    expect(sent).toHaveLength(3);
    expect(sent[0]!.counts).toHaveLength(1);
    for (const heartbeat of sent.slice(1)) expect(heartbeat).toMatchObject({ counts: [], messages: [], mismatches: [], noise: [] });
    const marks = sent.map((b) => b.watermark!);
    expect(marks[1]).toBeGreaterThan(marks[0]!);
    expect(marks[2]).toBeGreaterThan(marks[1]!);
    expect(sent.every((b) => b.watermark === b.sentAt && b.final === undefined)).toBe(true);
    const [row] = await reporterRows();
    expect(row).toMatchObject({ watermark: expect.any(Number), left_at: null, gone_at: null });
    // The server's copy moved with the heartbeats (onto its clock, within the test's skew).
    expect(Math.abs(Number(row!.watermark) - marks[2]!)).toBeLessThan(1_000);
  });

  it('puts the window’s watermark on its last batch only: the earlier ones do not hold all of the window', async () => {
    const { rc, sent } = await client({ maxBatchEvents: 10 });
    rc.received('jobs', { partnerId: 'p', messageId: 'first' });
    await rc.flush();
    const before = sent[0]!.watermark!;
    for (let i = 0; i < 25; i++) rc.received('jobs', { partnerId: 'p', messageId: `open-${i}` });
    await sleep(5);
    await rc.flush();
    const window = sent.slice(1);
    expect(window.length).toBeGreaterThanOrEqual(3);
    expect(window.slice(0, -1).every((b) => b.watermark === before)).toBe(true);
    expect(window.at(-1)!.watermark).toBeGreaterThan(before);
  });

  it('sends no heartbeats while a batch waits to go, so a partition does not fill the queue', async () => {
    const { rc, net } = await client();
    rc.received('jobs', { partnerId: 'p', messageId: 'held' });
    net.down = true;
    for (let i = 0; i < 20; i++) await rc.flush();
    expect(rc.status.buffered).toBe(1 + 1); // one open message, in one sealed batch
    net.down = false;
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 2_000, 'the held batch to go');
  });

  it('says goodbye on close: the last batch is final and the server stops waiting for it', async () => {
    const { rc, sent } = await client();
    rc.received('jobs', { partnerId: 'p', messageId: 'm' });
    await rc.flush();
    expect((await live.api('GET', '/v1/rollouts/jobs/health')).body.reporters.live).toBe(1);
    await rc.close();
    expect(sent.at(-1)).toMatchObject({ final: true, messages: [] });
    expect((await reporterRows())[0]!.left_at).not.toBeNull();
    expect((await live.api('GET', '/v1/rollouts/jobs/health')).body.reporters).toEqual({ live: 0, lagging: [], gone: [] });
  });

  it('takes a batch without a watermark (an older SDK) and does not wait for its sender', async () => {
    const batch = { batchId: 'legacy-batch-1', sdk: { name: 'python', version: '0.1', instanceId: 'py-1' }, sentAt: Date.now(), counts: [], messages: [], mismatches: [], noise: [] };
    const res = await fetch(`${live.url}/v1/sdk/reports`, { method: 'POST', headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    expect(res.status).toBe(200);
    expect(await reporterRows()).toEqual([]);
    for (const bad of [{ watermark: -1 }, { watermark: 'soon' }, { final: 'yes' }]) {
      const refused = await fetch(`${live.url}/v1/sdk/reports`, { method: 'POST', headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...batch, batchId: 'legacy-batch-2', ...bad }) });
      expect(refused.status).toBe(400);
    }
  });
});
