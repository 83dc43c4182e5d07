/**
 * The SDK against a server that is slow, broken or revokes its key, through
 * a proxy in front of a real server that the test turns bad at will.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

type Mode = 'pass' | 'slow-reports' | 'error-500' | 'garbage';
let live: LiveServer;
let proxy: Server;
let proxyUrl: string;
let mode: Mode = 'pass';
const clients: RollcallClient[] = [];

beforeEach(async () => {
  mode = 'pass';
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'r', plan: [{ live: 100 }] });
  await live.api('POST', '/v1/rollouts/r/start');
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (mode === 'error-500') return void res.writeHead(500).end('upstream exploded');
    if (mode === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"version": tru');
    let upstream: Response;
    let body: Buffer;
    try {
      upstream = await fetch(live.url + req.url, { method: req.method, headers: req.headers as Record<string, string>, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
      body = Buffer.from(await upstream.arrayBuffer());
    } catch {
      return void res.writeHead(502).end(); // the server behind is gone (the test is ending)
    }
    // The server has committed the batch; its answer is what comes late.
    if (mode === 'slow-reports' && req.url === '/v1/sdk/reports') await new Promise((resolve) => setTimeout(resolve, 1_500));
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, key) => {
      if (key !== 'content-encoding' && key !== 'content-length' && key !== 'transfer-encoding') headers[key] = value;
    });
    res.writeHead(upstream.status, headers).end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await live.close();
});

function client(extra: Record<string, unknown> = {}): RollcallClient {
  const c = createClient({ url: proxyUrl, sdkKey: live.sdkKey, stream: false, pollIntervalMs: 100, flushIntervalMs: 100, retry: { firstMs: 50, maxMs: 200 }, logger: { warn() {}, error() {} }, ...extra });
  clients.push(c);
  return c;
}

async function counted(): Promise<{ received: number; processed: number }> {
  const row = (await live.database.client.execute('SELECT coalesce(sum(received), 0) received, coalesce(sum(processed), 0) processed FROM cohort_counts')).rows[0]!;
  return { received: Number(row.received), processed: Number(row.processed) };
}

const msg = (i: number) => ({ partnerId: `partner-${i % 50}`, messageId: `m-${i}` });

describe('the SDK when the server misbehaves', () => {
  it('a slow server: reports time out and are retried without holding up run(), and are counted once', async () => {
    const rc = client({ reportTimeoutMs: 300 });
    await rc.ready();
    mode = 'slow-reports';
    const slowest: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await rc.run('r', msg(i), { old: () => 'old', new: () => 'new' });
      slowest.push(performance.now() - started);
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(Math.max(...slowest)).toBeLessThan(50);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // several timed-out sends, committed upstream each time
    mode = 'pass';
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 10_000, 'everything to be sent');
    expect(await counted()).toEqual({ received: 200, processed: 200 });
  });

  it('a server answering 500 or garbage: no throw, an error event, routing goes on, and all is sent once it recovers', async () => {
    const rc = client();
    await rc.ready();
    const errors: Error[] = [];
    rc.on('error', (e) => errors.push(e));
    for (const bad of ['error-500', 'garbage'] as const) {
      mode = bad;
      for (let i = 0; i < 50; i++) expect(await rc.run('r', msg(bad.length * 1000 + i), { old: () => 'old', new: () => 'new' })).toBe('new');
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(rc.path('r', 'partner-1')).toBe('new');
    mode = 'pass';
    await waitFor(async () => (await rc.flush(), rc.status.buffered === 0), 10_000, 'everything to be sent');
    expect(await counted()).toEqual({ received: 100, processed: 100 });
    expect(rc.status.stopped).toBe(false);
  });

  it('a key revoked mid-flight: the SDK stops, says so, and keeps routing by what it has', async () => {
    const rc = client();
    await rc.ready();
    const errors: Error[] = [];
    rc.on('error', (e) => errors.push(e));
    await rc.run('r', msg(1), { old: () => 'old', new: () => 'new' });
    const sdkKeyId = (await live.api('GET', '/v1/keys')).body.items.find((k: any) => k.kind === 'sdk').id;
    expect((await live.api('POST', `/v1/keys/${sdkKeyId}/revoke`, { reason: 'leaked' })).status).toBe(200);
    await waitFor(() => rc.status.stopped, 10_000, 'the SDK to stop');
    expect(errors.some((e) => /401|revoked|unauthorized/i.test(e.message))).toBe(true);
    expect(rc.path('r', 'partner-1')).toBe('new');
    expect(await rc.run('r', msg(2), { old: () => 'old', new: () => 'new' })).toBe('new');
  });
});
