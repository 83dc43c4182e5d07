/**
 * The standard-library Python client (clients/python/rollcall.py), run by
 * python3 against a real server: it routes as the TypeScript SDK does, its
 * reports reconcile exactly, its losses revert a cohort, and a batch whose
 * acknowledgement was lost is sent again and counted once. Its hash and
 * positions are checked against the protocol in test/protocol/python-vectors.test.ts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';
import { python, type Python } from '../helpers/python.ts';

let live: LiveServer;
let rc: RollcallClient;
const pythons: Python[] = [];
const started = async (options: Record<string, unknown> = {}, url = live.url) => {
  const py = python();
  pythons.push(py);
  // Reports go when the test says so, not on a timer.
  await py.ask({ op: 'start', url, key: live.sdkKey, options: { flush_interval: 3600, ...options } });
  return py;
};

beforeAll(async () => {
  live = await startLiveServer({ tickMs: 100 });
  const create = async (key: string, body: Record<string, unknown>, ...actions: [string, unknown?][]) => {
    expect((await live.api('POST', '/v1/rollouts', { key, ...body })).status).toBe(201);
    for (const [action, actionBody] of actions) expect((await live.api('POST', `/v1/rollouts/${key}/${action}`, actionBody)).status, `${key} ${action}`).toBe(200);
  };
  await create('shadowed', { plan: [{ live: 0, shadow: 30 }, { live: 10 }], salt: 'ü-salt' }, ['start']);
  await create('live', { plan: [{ live: 10 }, { live: 40, shadow: 60 }] }, ['start'], ['advance']);
  await create('pinned', { plan: [{ live: 25 }] }, ['start']);
  for (const [partner, path] of [['partner-7', 'new'], ['partner-14', 'old'], ['😀-21', 'shadow']]) {
    expect((await live.api('PUT', `/v1/rollouts/pinned/pins/${encodeURIComponent(partner!)}`, { path })).status).toBe(200);
  }
  await create('reverted-cohort', { plan: [{ live: 20 }, { live: 50 }] }, ['start'], ['advance'], ['revert', { cohort: 'c1', reason: 'loss' }]);
  await create('reverted', { plan: [{ live: 50 }] }, ['start'], ['revert', { reason: 'all back' }]);
  await create('completed', { plan: [{ live: 5 }] }, ['start'], ['complete']);
  await create('drafty', { plan: [{ live: 50 }] });
  await create('jobs', { plan: [{ live: 50 }] }, ['start']);
  await create('hooks', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } }, ['start']);
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} } });
  await rc.ready();
}, 60_000);
afterEach(async () => {
  for (const py of pythons.splice(0)) await py.close();
});
afterAll(async () => {
  await rc?.close();
  await live?.close();
});

const partnerId = (i: number) => (i % 10 === 0 ? `ü-partner-${i}` : i % 10 === 1 ? `😀-${i}` : `partner-${i}`);

describe('the Python client', () => {
  it('agrees with the TypeScript SDK on the path of 10,000 partners over shadow, live, pinned, reverted and completed rollouts', async () => {
    const py = await started();
    const rollouts = ['shadowed', 'live', 'pinned', 'reverted-cohort', 'reverted', 'completed', 'drafty', 'no-such-rollout'];
    const partners = Array.from({ length: 10_000 }, (_, i) => partnerId(i));
    const { paths } = await py.ask<{ paths: Record<string, string> }>({ op: 'paths', rollouts, partners });
    for (const key of rollouts) {
      const expected = partners.map((p) => rc.path(key, p)[0]).join('');
      const first = [...expected].findIndex((c, i) => paths[key]![i] !== c);
      expect(first, `${key}: partner ${partners[first]} is ${paths[key]![first]} in Python, ${expected[first]} in TypeScript`).toBe(-1);
    }
    // Every path each rollout can give was met.
    for (const [key, letters] of Object.entries({ shadowed: 'so', live: 'nso', pinned: 'nos', 'reverted-cohort': 'on', reverted: 'o', completed: 'n', drafty: 'o' })) {
      expect(new Set(paths[key]!), key).toEqual(new Set(letters));
    }
  }, 60_000);

  it('reports so that the server reconciles exactly what it saw: counts per cohort, open and failed ids, settlements from elsewhere', async () => {
    const py = await started({ stream: false });
    const outcomes = ['processed', 'processed', 'processed', 'processed', 'processed', 'processed', 'failed', 'lost', 'elsewhere', 'processed'];
    const messages = Array.from({ length: 400 }, (_, i) => [partnerId(i), `job-${i}`, outcomes[i % 10]!] as const);
    await py.ask({ op: 'traffic', rollout: 'jobs', messages });
    expect(await py.ask({ op: 'flush' })).toEqual({ acknowledged: true, queued: 0 });

    const expected: Record<string, { received: number; processed: number; failed: number }> = {};
    for (const [partner, , outcome] of messages) {
      const cohort = rc.evaluate('jobs', partner).cohort;
      const sums = (expected[cohort] ??= { received: 0, processed: 0, failed: 0 });
      if (outcome !== 'elsewhere') sums.received++;
      if (outcome === 'processed' || outcome === 'elsewhere') sums.processed++;
      if (outcome === 'failed') sums.failed++;
    }
    const counted = await live.database.client.execute(
      "SELECT cohort, sum(received) received, sum(processed) processed, sum(failed) failed FROM cohort_counts WHERE rollout_id = (SELECT id FROM rollouts WHERE key = 'jobs') GROUP BY cohort",
    );
    expect(Object.fromEntries(counted.rows.map((r) => [r.cohort, { received: r.received, processed: r.processed, failed: r.failed }]))).toEqual(expected);
    const ledger = await live.database.client.execute("SELECT message_id, status, error FROM messages WHERE rollout_id = (SELECT id FROM rollouts WHERE key = 'jobs')");
    const ids = (status: string) => ledger.rows.filter((r) => r.status === status).map((r) => String(r.message_id)).sort();
    const idsOf = (outcome: string) => messages.filter((m) => m[2] === outcome).map((m) => m[1]).sort();
    expect(ids('open')).toEqual(idsOf('lost'));
    expect(ids('failed')).toEqual(idsOf('failed'));
    expect(ids('processed')).toEqual(idsOf('elsewhere'));
    expect(ledger.rows.find((r) => r.status === 'failed')?.error).toBe('upstream said no');
    expect(ledger.rows).toHaveLength(idsOf('lost').length + idsOf('failed').length + idsOf('elsewhere').length);
  });

  it('loses messages in a cohort, which is reverted, and hears of it on the stream', async () => {
    const py = await started();
    const members = Array.from({ length: 4000 }, (_, i) => partnerId(i)).filter((p) => positionOf('hooks', p) < 5000);
    const messages = Array.from({ length: 100 }, (_, i) => [members[i % members.length]!, `hook-${i}`, i % 10 === 3 ? 'lost' : 'processed'] as const);
    expect((await py.ask({ op: 'paths', rollouts: ['hooks'], partners: [members[0]] })).paths.hooks).toBe('n');
    await py.ask({ op: 'traffic', rollout: 'hooks', messages });
    expect((await py.ask({ op: 'flush' })).acknowledged).toBe(true);
    expect(await py.ask({ op: 'wait_path', rollout: 'hooks', partner: members[0], path: 'old', timeout: 15 })).toEqual({ path: 'old' });
    expect((await live.api('GET', '/v1/rollouts/hooks')).body.cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted', revertKind: 'breach' });
    const lostIds = async () => (await live.api('GET', '/v1/rollouts/hooks/lost?limit=1000')).body.items.map((m: { messageId: string }) => m.messageId).sort();
    // Received milliseconds apart, they may become due over more than one controller tick.
    await waitFor(async () => (await lostIds()).length >= 10, 5_000, 'every lost id');
    expect(await lostIds()).toEqual(messages.filter((m) => m[2] === 'lost').map((m) => m[1]).sort());
  }, 30_000);

  it('sends a batch whose acknowledgement was lost again, with the same batchId, and the server counts it once', async () => {
    // A proxy that passes everything on, but cuts the connection after the server has committed the first report.
    const batchIds: string[] = [];
    let cut = 1;
    const proxy: Server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(['authorization', 'content-type', 'content-encoding', 'if-none-match', 'x-rollcall-clock'].filter((h) => req.headers[h] !== undefined).map((h) => [h, String(req.headers[h])]));
      const upstream = await fetch(live.url + req.url, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
      const answer = Buffer.from(await upstream.arrayBuffer());
      if (req.url === '/v1/sdk/reports') {
        batchIds.push(JSON.parse(gunzipSync(body).toString()).batchId);
        if (cut-- > 0) return void req.socket.destroy();
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json', ...(upstream.headers.get('etag') ? { etag: upstream.headers.get('etag')! } : {}) });
      res.end(answer);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const receivedByJobs = async () =>
        Number((await live.database.client.execute("SELECT coalesce(sum(received), 0) n FROM cohort_counts WHERE rollout_id = (SELECT id FROM rollouts WHERE key = 'jobs')")).rows[0]!.n);
      const receivedBefore = await receivedByJobs();
      const py = await started({ stream: false }, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      const messages = Array.from({ length: 60 }, (_, i) => [partnerId(i), `retry-${i}`, i < 55 ? 'processed' : 'lost'] as const);
      await py.ask({ op: 'traffic', rollout: 'jobs', messages });
      expect(await py.ask({ op: 'flush' })).toEqual({ acknowledged: false, queued: 1 });
      expect(await py.ask({ op: 'flush' })).toEqual({ acknowledged: true, queued: 0 });
      expect(batchIds).toHaveLength(2);
      expect(batchIds[1]).toBe(batchIds[0]);
      const [row] = (await live.database.client.execute("SELECT count(*) n FROM report_batches WHERE batch_id = ?", [batchIds[0]!])).rows;
      expect(row!.n).toBe(1);
      const ledger = await live.database.client.execute("SELECT message_id FROM messages WHERE message_id LIKE 'retry-%' ORDER BY message_id");
      expect(ledger.rows.map((r) => r.message_id)).toEqual(['retry-55', 'retry-56', 'retry-57', 'retry-58', 'retry-59']);
      expect((await receivedByJobs()) - receivedBefore).toBe(60);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
