import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { silentLogger } from '../../server/logger.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';
import { connectSse } from '../helpers/sse-client.ts';
import { PLAN } from '../helpers/test-app.ts';

let live: LiveServer;
beforeEach(async () => {
  live = await startLiveServer({ heartbeatMs: 100 });
  await live.api('POST', '/v1/rollouts', { key: 'r', plan: PLAN });
});
afterEach(async () => {
  await live.close();
});

describe('GET /v1/sdk/stream', () => {
  it('sends the snapshot on connect, then every committed change at once', async () => {
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, live.sdkKey);
    expect(sse.status).toBe(200);
    const first = await sse.next((e) => e.event === 'snapshot');
    expect(JSON.parse(first.data).rollouts[0]).toMatchObject({ key: 'r', state: 'draft' });
    expect(first.id).toBe('1');

    const started = performance.now();
    await live.api('POST', '/v1/rollouts/r/start');
    const second = await sse.next((e) => e.event === 'snapshot');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(JSON.parse(second.data).rollouts[0]).toMatchObject({ state: 'running', version: 2 });

    await live.api('PUT', '/v1/rollouts/r/pins/p1', { path: 'new' });
    const third = await sse.next((e) => e.event === 'snapshot');
    expect(JSON.parse(third.data).rollouts[0].pins).toEqual([{ partnerId: 'p1', path: 'new' }]);
    sse.close();
  });

  it('sends heartbeats as comments', async () => {
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, live.sdkKey);
    await waitFor(() => sse.raw().includes(': heartbeat'), 2_000, 'a heartbeat');
    sse.close();
  });

  it('forgets a client that disconnects', async () => {
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, live.sdkKey);
    await sse.next();
    expect(live.rollcall.services.hub.connected).toBe(1);
    sse.close();
    await waitFor(() => live.rollcall.services.hub.connected === 0, 2_000, 'the hub to drop the client');
  });

  it('notices a change committed by another server on the same database', async () => {
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, live.sdkKey);
    await sse.next();
    const other = createApp({ database: live.database, logger: silentLogger });
    await other.services.rollouts.transition('r', { action: 'start' }, { actor: 'other-server' });
    const next = await sse.next((e) => e.event === 'snapshot', 2_000);
    expect(JSON.parse(next.data).rollouts[0].state).toBe('running');
    sse.close();
  });

  it('refuses a request without a key, and a read key may listen', async () => {
    const anonymous = await connectSse(`${live.url}/v1/sdk/stream`, 'nope-nope-nope-nope');
    expect(anonymous.status).toBe(401);
    const read = await live.api('POST', '/v1/keys', { kind: 'read', name: 'dash' });
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, read.body.key);
    expect(sse.status).toBe(200);
    sse.close();
  });

  it('ends every stream when the server shuts down', async () => {
    const sse = await connectSse(`${live.url}/v1/sdk/stream`, live.sdkKey);
    await sse.next();
    await live.stop();
    expect(live.rollcall.services.hub.connected).toBe(0);
  });
});
