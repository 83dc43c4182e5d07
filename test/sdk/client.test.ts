import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type ClientOptions, type RevertEvent, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
const clients: RollcallClient[] = [];

beforeEach(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 0, shadow: 20 }, { live: 30 }, { live: 60 }] });
  await live.api('POST', '/v1/rollouts/hooks/start');
  await live.api('POST', '/v1/rollouts/hooks/advance');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await live.close();
});

function client(options: Partial<ClientOptions> = {}): RollcallClient {
  const c = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, reconnect: { firstMs: 50, maxMs: 200 }, ...options });
  clients.push(c);
  return c;
}

const partners = Array.from({ length: 2000 }, (_, i) => `partner-${i}`);
const inBand = (lo: number, hi: number) => partners.find((p) => positionOf('hooks', p) >= lo && positionOf('hooks', p) < hi)!;

describe('a client on the stream', () => {
  it('routes partners exactly as the snapshot says once ready', async () => {
    const rc = client();
    await rc.ready();
    expect(rc.status.source).toBe('server');
    expect(rc.path('hooks', inBand(0, 3000))).toBe('new');
    expect(rc.path('hooks', inBand(3000, 10_000))).toBe('old');
    expect(rc.path('unknown-rollout', 'partner-1')).toBe('old');
    expect(rc.path('hooks', '')).toBe('old');
    expect(rc.path('hooks', undefined as never)).toBe('old');
    expect(rc.path(null as never, 42 as never)).toBe('old');
  });

  it('hears a revert within 1 s and routes the cohort to old', async () => {
    const rc = client();
    await rc.ready();
    const partner = inBand(0, 3000);
    const reverts: RevertEvent[] = [];
    rc.on('revert', (e) => reverts.push(e));
    const started = performance.now();
    const reply = await live.api('POST', '/v1/rollouts/hooks/revert', { cohort: 'c1', reason: 'loss above threshold' });
    expect(reply.status).toBe(200);
    const took = await waitFor(() => rc.path('hooks', partner) === 'old', 1_000, 'the revert');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(took).toBeLessThan(1_000);
    await waitFor(() => reverts.length > 0, 1_000);
    expect(reverts).toEqual([{ rollout: 'hooks', cohort: 'c1', reason: 'loss above threshold', version: reply.body.version }]);
  });

  it('hears a pin and an advance within 1 s, with a change event for each version', async () => {
    const rc = client();
    await rc.ready();
    const versions: number[] = [];
    rc.on('change', (e) => versions.push(e.version));
    const outsider = inBand(6000, 10_000);
    await live.api('PUT', `/v1/rollouts/hooks/pins/${outsider}`, { path: 'new' });
    await waitFor(() => rc.path('hooks', outsider) === 'new', 1_000, 'the pin');
    const later = inBand(3000, 6000);
    expect(rc.path('hooks', later)).toBe('old');
    await live.api('POST', '/v1/rollouts/hooks/advance');
    await waitFor(() => rc.path('hooks', later) === 'new', 1_000, 'the advance');
    expect(versions.length).toBe(2);
    expect(versions[1]).toBeGreaterThan(versions[0]!);
  });

  it('survives the server restarting and reconnects', async () => {
    const rc = client();
    await rc.ready();
    await live.restart();
    const partner = inBand(6000, 10_000);
    await live.api('PUT', `/v1/rollouts/hooks/pins/${partner}`, { path: 'shadow' });
    await waitFor(() => rc.path('hooks', partner) === 'shadow', 3_000, 'the change after the restart');
  });

  it('falls back to polling while the stream cannot be reached', async () => {
    const rc = client({
      pollIntervalMs: 100,
      fetch: (input, init) => (String(input).endsWith('/v1/sdk/stream') ? Promise.resolve(new Response('no streams here', { status: 503 })) : fetch(input, init)),
    });
    await rc.ready();
    const partner = inBand(6000, 10_000);
    await live.api('PUT', `/v1/rollouts/hooks/pins/${partner}`, { path: 'new' });
    await waitFor(() => rc.path('hooks', partner) === 'new', 2_000, 'a poll to bring the pin');
  });

  it('stops on 401: ready rejects, error is emitted, no more requests', async () => {
    let requests = 0;
    const errors: Error[] = [];
    const rc = client({
      sdkKey: 'rc_sdk_revokedorwrongkeyrevokedorwrongkey000000',
      fetch: (input, init) => {
        requests++;
        return fetch(input, init);
      },
    });
    rc.on('error', (e) => errors.push(e));
    await expect(rc.ready()).rejects.toMatchObject({ status: 401 });
    expect(errors[0]).toMatchObject({ status: 401 });
    const seen = requests;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(requests).toBe(seen);
    expect(rc.status.stopped).toBe(true);
    expect(rc.path('hooks', inBand(0, 3000))).toBe('old');
  });

  it('rejects ready within initTimeoutMs when there is nothing to route by', async () => {
    const rc = client({ url: 'http://127.0.0.1:9', initTimeoutMs: 300 });
    const started = performance.now();
    await expect(rc.ready()).rejects.toThrow(/no snapshot within 300 ms/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('settles ready at close rather than leaving it pending', async () => {
    const rc = client({ url: 'http://127.0.0.1:9', initTimeoutMs: 60_000 });
    const ready = rc.ready();
    await rc.close();
    await expect(ready).rejects.toThrow(/closed before it was ready/);
  });
});
