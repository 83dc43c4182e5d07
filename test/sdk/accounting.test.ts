/**
 * Nothing lost without being counted, end to end with a real server: reports
 * the server refuses, reports too large for it, open messages that do not
 * fit the buffer, and a send queue that stays bounded through a long outage
 * and catches up in a few posts. (accounting-property.test.ts proves the
 * invariant over random faults; here each case is shown as a user meets it.)
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient, type ClientOptions, type RollcallClient } from '../../sdk/src/index.ts';
import { createReporter } from '../../sdk/src/reporting/reporter.ts';
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

async function client(options: Partial<ClientOptions> = {}) {
  const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 60_000, retry: { firstMs: 20, maxMs: 50 }, ...options });
  clients.push(rc);
  rc.on('error', () => {});
  await rc.ready();
  return rc;
}

async function totals() {
  const { rows } = await live.database.client.execute(
    'SELECT coalesce(sum(received),0) received, coalesce(sum(processed),0) processed, coalesce(sum(failed),0) failed, coalesce(sum(dropped),0) dropped FROM cohort_counts',
  );
  return { ...rows[0] } as Record<'received' | 'processed' | 'failed' | 'dropped', number>;
}
async function droppedByReason() {
  const { rows } = await live.database.client.execute('SELECT reason, sum(count) n FROM dropped_events GROUP BY reason ORDER BY reason');
  return Object.fromEntries(rows.map((r) => [r.reason, Number(r.n)]));
}
const isReport = (input: unknown) => String(input).endsWith('/v1/sdk/reports');
const batchOf = (init: RequestInit | undefined) => JSON.parse(gunzipSync(init!.body as Buffer).toString('utf8')) as ReportBatch;
const settleAll = async (rc: RollcallClient) => waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 5_000, 'every report to be acknowledged');

describe('refused reports', () => {
  it('counts every event of a report the server refuses as dropped (refused), says so, and the cohort says why', async () => {
    let reports = 0;
    const rc = await client({
      fetch: async (input, init) => {
        // The first, third and fifth reports are refused for good.
        if (isReport(input) && [1, 3, 5].includes(++reports)) return new Response('{"error":{"code":"invalid_request"}}', { status: 400 });
        return fetch(input, init);
      },
    });
    const errors: string[] = [];
    rc.on('error', (error) => errors.push(error.message));
    for (let round = 0; round < 6; round++) {
      for (let i = round * 50; i < round * 50 + 50; i++) rc.received('jobs', { partnerId: `p${i % 7}`, messageId: `m${i}` });
      await rc.flush();
      for (let i = round * 50; i < round * 50 + 50; i++) rc.processed('jobs', { partnerId: `p${i % 7}`, messageId: `m${i}` });
      await rc.flush();
    }
    await settleAll(rc);
    const server = await totals();
    // 300 received and 300 processed were handed over: what the server did not count, it was told was dropped.
    expect(server.received).toBeLessThan(300);
    expect(server.dropped).toBe(rc.status.dropped);
    expect(server.dropped).toBeGreaterThanOrEqual(300 - server.received + 300 - server.processed);
    expect(rc.status.droppedBy).toEqual({ refused: rc.status.dropped });
    expect(await droppedByReason()).toEqual({ refused: rc.status.dropped });
    // Each refusal is an error event that says what became of the report (logged once when nobody listens).
    expect(errors.filter((m) => m.includes('refused a report; its events are counted as dropped (refused)'))).toHaveLength(3);
    // The drops breached the dropped guard and reverted c1 (messages after it went to old): the cohort's
    // figures and the audit entry of the breach say why.
    const health = (await live.api('GET', '/v1/rollouts/jobs/health')).body;
    const c1 = health.cohorts.find((c: { name: string }) => c.name === 'c1');
    expect(c1.dropped).toBeGreaterThan(0);
    expect(c1.droppedBy).toEqual({ refused: c1.dropped });
    const breach = (await live.api('GET', '/v1/audit?rollout=jobs')).body.items.find((e: { action: string }) => e.action === 'guard.breached');
    expect(breach.after.guard).toBe('dropped');
    expect(breach.after.figures.cohort.droppedBy).toEqual({ refused: breach.after.figures.cohort.dropped });
  });

  it('splits a report the server finds too large (413) until it fits: nothing dropped', async () => {
    const sizes: number[] = [];
    const rc = await client({
      fetch: async (input, init) => {
        if (!isReport(input)) return fetch(input, init);
        const size = (init!.body as Buffer).length;
        sizes.push(size);
        return size > 700 ? new Response('too large', { status: 413 }) : fetch(input, init);
      },
    });
    for (let i = 0; i < 60; i++) rc.received('jobs', { partnerId: `partner-${i}`, messageId: `message-with-a-long-id-${i}-${'x'.repeat(40)}` });
    await settleAll(rc);
    expect(sizes.some((s) => s > 700)).toBe(true);
    expect(await totals()).toEqual({ received: 60, processed: 0, failed: 0, dropped: 0 });
    const { rows } = await live.database.client.execute("SELECT count(*) n FROM messages WHERE status = 'open'");
    expect(Number(rows[0]!.n)).toBe(60);
  });
});

describe('open messages and the buffer', () => {
  it('counts open messages that do not fit as dropped (buffer_full) in the window whose watermark passes them', async () => {
    const batches: ReportBatch[] = [];
    const rc = await client({
      maxBufferedEvents: 5,
      fetch: async (input, init) => {
        if (isReport(input)) batches.push(batchOf(init));
        return fetch(input, init);
      },
    });
    for (let i = 0; i < 20; i++) rc.received('jobs', { partnerId: 'p', messageId: `open-${i}` });
    await rc.flush();
    const sealed = batches.at(-1)!;
    expect(sealed.messages.map((m) => m.messageId)).toEqual(['open-0', 'open-1', 'open-2', 'open-3', 'open-4']);
    expect(sealed.counts).toEqual([expect.objectContaining({ received: 20, dropped: 15, droppedBy: { buffer_full: 15 } })]);
    expect(await totals()).toMatchObject({ received: 20, dropped: 15 });
    expect(await droppedByReason()).toEqual({ buffer_full: 15 });
    // Settled later, a dropped message is counted, and not sent by id (the server never heard of it).
    for (let i = 0; i < 20; i++) rc.processed('jobs', { partnerId: 'p', messageId: `open-${i}` });
    await settleAll(rc);
    expect(await totals()).toMatchObject({ received: 20, processed: 20, dropped: 15 });
    const { rows } = await live.database.client.execute('SELECT status, count(*) n FROM messages GROUP BY status');
    expect(rows.map((r) => [r.status, Number(r.n)])).toEqual([['processed', 5]]);
  });
});

describe('ids settled in another process', () => {
  it('remembers at most maxRememberedIds of them once the server has them; a forgotten one settled here later counts once', async () => {
    const web = await client({ maxRememberedIds: 5 });
    const worker = await client();
    for (let i = 0; i < 20; i++) web.received('jobs', { partnerId: `p${i % 3}`, messageId: `x${i}` });
    expect(web.status.inFlight).toBe(20);
    // The flush sends all twenty by id; the server has them, and the web tier keeps the newest five.
    await settleAll(web);
    expect(web.status.inFlight).toBe(5);
    const { rows: open } = await live.database.client.execute("SELECT count(*) n FROM messages WHERE status = 'open'");
    expect(Number(open[0]!.n)).toBe(20);

    // The worker settles most of them; the web tier settles one it forgot (x10) and the five it remembers.
    for (let i = 0; i < 15; i++) if (i !== 10) worker.processed('jobs', { partnerId: `p${i % 3}`, messageId: `x${i}` });
    for (const i of [10, 15, 16, 17, 18, 19]) web.processed('jobs', { partnerId: `p${i % 3}`, messageId: `x${i}` });
    expect(web.status.inFlight).toBe(0);
    await settleAll(web);
    await settleAll(worker);
    expect(await totals()).toMatchObject({ received: 20, processed: 20, failed: 0, dropped: 0 });
    const { rows } = await live.database.client.execute('SELECT status, count(*) n FROM messages GROUP BY status');
    expect(rows.map((r) => [r.status, Number(r.n)])).toEqual([['processed', 20]]);
    // Only the remembered five were timed from their receipt; a forgotten one, like the worker's, has no receipt here.
    const { rows: timed } = await live.database.client.execute('SELECT coalesce(sum(count), 0) n FROM latency_counts');
    expect(Number(timed[0]!.n)).toBe(5);
  });

  it('keeps every id when nothing is settled elsewhere, however many flushes pass', async () => {
    const rc = await client({ maxRememberedIds: 5 });
    for (let i = 0; i < 4; i++) rc.received('jobs', { partnerId: 'p', messageId: `y${i}` });
    await settleAll(rc);
    await settleAll(rc);
    expect(rc.status.inFlight).toBe(4);
    for (let i = 0; i < 4; i++) rc.processed('jobs', { partnerId: 'p', messageId: `y${i}` });
    await settleAll(rc);
    const { rows: timed } = await live.database.client.execute('SELECT coalesce(sum(count), 0) n FROM latency_counts');
    expect(Number(timed[0]!.n)).toBe(4);
    expect(await totals()).toMatchObject({ received: 4, processed: 4, dropped: 0 });
  });
});

describe('the send queue through an outage', () => {
  it("merges into a report the server answered with its own 503 (nothing stored), never into one it may hold", async () => {
    const answers: ('storage' | 'lost')[] = [];
    const bodies: ReportBatch[] = [];
    const reporter = createReporter({
      url: live.url,
      sdkKey: live.sdkKey,
      fetch: async (input, init) => {
        bodies.push(batchOf(init));
        const answer = answers.shift();
        if (answer === 'storage') return Response.json({ error: { code: 'storage_unavailable', message: 'disk full' } }, { status: 503 });
        if (answer === 'lost') {
          await fetch(input, init);
          throw new TypeError('fetch failed: other side closed');
        }
        return fetch(input, init);
      },
      sdk: { name: 'merge', version: '0', instanceId: 'merge-1' },
      maxBufferedEvents: 100, maxBatchEvents: 100, maxQueuedBatches: 10, maxQueuedBytes: 1_000_000, maxSamplesPerWindow: 2,
      reportTimeoutMs: 5_000, retryFirstMs: 1, retryMaxMs: 2,
      onError() {}, onDropped() {},
    });
    const cell = reporter.cell('jobs', 'c1', 'new');
    const window = async () => {
      reporter.settle(reporter.begin(cell, `m${bodies.length}-${Math.random()}`, 'p', performance.now()), true, performance.now());
      await reporter.flush();
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    answers.push('storage', 'storage', 'storage');
    for (let i = 0; i < 3; i++) await window();
    await window();
    // Three windows went into the one batch the server kept refusing with 503: one batchId, growing counts.
    expect(new Set(bodies.map((b) => b.batchId)).size).toBe(1);
    expect(bodies.map((b) => b.counts[0]!.received)).toEqual([1, 2, 3, 4]);
    answers.push('lost');
    await window();
    await window();
    expect(reporter.pending).toBe(0);
    expect(await totals()).toMatchObject({ received: 6, processed: 6, dropped: 0 });
  });

  it('stays bounded for 3 hours of 50 busy rollouts, then catches up in a few posts with every count', async () => {
    const rollouts = Array.from({ length: 50 }, (_, r) => `busy-${r}`);
    for (const key of rollouts) {
      await live.api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }] });
      await live.api('POST', `/v1/rollouts/${key}/start`);
    }
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      let up = false;
      let posts = 0;
      const rc = { received: 0, processed: 0 };
      const reporter = createReporter({
        url: live.url,
        sdkKey: live.sdkKey,
        fetch: async (input, init) => {
          if (!up) throw new TypeError('fetch failed: connection refused');
          posts++;
          return fetch(input, init);
        },
        sdk: { name: 'outage', version: '0', instanceId: 'outage-1' },
        maxBufferedEvents: 10_000,
        maxBatchEvents: 5_000,
        maxQueuedBatches: 100,
        maxQueuedBytes: 8 * 1024 * 1024,
        maxSamplesPerWindow: 20,
        reportTimeoutMs: 5_000,
        retryFirstMs: 1_000,
        retryMaxMs: 30_000,
        onError() {},
        onDropped() {},
      });
      const cells = rollouts.flatMap((key) => [reporter.cell(key, 'c1', 'new'), reporter.cell(key, 'baseline', 'old')]);
      let peakBytes = 0;
      for (let second = 0; second < 3 * 3600; second++) {
        vi.advanceTimersByTime(1_000);
        for (const cell of cells) {
          const record = reporter.begin(cell, `m${second}`, 'p', performance.now());
          reporter.settle(record, true, performance.now());
          rc.received++;
          rc.processed++;
        }
        await reporter.flush();
        peakBytes = Math.max(peakBytes, reporter.queuedBytes);
      }
      // One batch in retry and one that every later window merged into.
      expect(peakBytes).toBeLessThan(100_000);
      expect(reporter.queuedBytes).toBeLessThan(100_000);
      up = true;
      vi.advanceTimersByTime(60_000);
      for (let i = 0; i < 5 && !((await reporter.flush()) && reporter.pending === 0); i++) vi.advanceTimersByTime(60_000);
      expect(reporter.pending).toBe(0);
      expect(posts).toBeLessThanOrEqual(3);
      expect(await totals()).toMatchObject({ received: rc.received, processed: rc.processed, dropped: 0 });
    } finally {
      vi.useRealTimers();
    }
  }, 60_000);
});
