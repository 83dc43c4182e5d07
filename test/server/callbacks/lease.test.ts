/**
 * The delivery lease: sized to one attempt's deadline plus a margin, and
 * never the cause of two recorded attempts. Two workers share one database
 * file and one manual clock, as two servers share a database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../server/logger.ts';
import { ATTEMPT_TIMEOUT_MS, type AttemptResult, type Sender } from '../../../server/callbacks/sender.ts';
import { createDeliveryWorker, LEASE_MS, type DeliveryWorker } from '../../../server/callbacks/worker.ts';
import type { Clock } from '../../../server/clock.ts';
import { loadConfig } from '../../../server/config.ts';
import { waitFor } from '../../helpers/live-server.ts';
import { createRollout, createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
const apps: TestApp[] = [];
const workers: DeliveryWorker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  for (const app of apps.splice(0)) await app.close();
});

const answer = (status: number): AttemptResult => ({ status, latencyMs: 1, error: null, excerpt: null, address: '127.0.0.1', retryAfterMs: null });

function worker(send: Sender, clock: Clock = t.clock): DeliveryWorker {
  const w = createDeliveryWorker({ database: t.database, clock, logger: silentLogger, send, pollMs: 20, random: () => 0.5 });
  workers.push(w);
  return w;
}

/** A rollout whose cohort c1 is reverted, with one subscription: one pending delivery. */
async function pendingDelivery(): Promise<string> {
  // The app's own worker is off: the two workers of each test are the only ones sending.
  t = await createTestApp({ deps: { callbacks: { allow: loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow, concurrency: 0 } } });
  apps.push(t);
  const { id } = (await t.call('POST', '/v1/callbacks', { body: { url: 'http://127.0.0.1:9/hooks', events: ['cohort.reverted'] } })).body;
  await createRollout(t, 'r', { plan: [{ live: 5 }, { live: 50 }] });
  await t.call('POST', '/v1/rollouts/r/start', { body: {} });
  await t.call('POST', '/v1/rollouts/r/revert', { body: { cohort: 'c1', reason: 'drops' } });
  return id;
}
const deliveries = async (id: string) => (await t.call('GET', `/v1/callbacks/${id}/deliveries`)).body.items;

describe('the delivery lease', () => {
  it('lasts one attempt deadline plus a margin, well inside the 25 s a dead server may hold a delivery', () => {
    expect(LEASE_MS).toBeGreaterThan(ATTEMPT_TIMEOUT_MS);
    expect(LEASE_MS).toBeLessThanOrEqual(20_000);
  });

  it('a slow attempt that outlived its lease is not recorded: the attempt of the server that took over stands, once', async () => {
    const id = await pendingDelivery();
    let release!: (result: AttemptResult) => void;
    const slowCalls: number[] = [];
    const slow = worker(() => {
      slowCalls.push(t.clock.now());
      return new Promise((resolve) => (release = resolve));
    });
    slow.start();
    await waitFor(async () => slowCalls.length === 1, 5_000, 'the slow worker to start its attempt');

    const fastCalls: number[] = [];
    const fast = worker(async () => (fastCalls.push(t.clock.now()), answer(204)));
    await fast.drain();
    expect(fastCalls).toHaveLength(0); // still leased: never two attempts at once
    t.clock.advance(LEASE_MS - 1);
    await fast.drain();
    expect(fastCalls).toHaveLength(0);
    t.clock.advance(1);
    await fast.drain();
    expect(fastCalls).toHaveLength(1);

    release(answer(500));
    await slow.stop();
    const [delivery] = await deliveries(id);
    expect(delivery).toMatchObject({ status: 'succeeded', lastStatus: 204 });
    expect(delivery.attempts.map((a: { status: number }) => a.status)).toEqual([204]);
    expect(slowCalls).toHaveLength(1);
  });

  it('an attempt with too little of its lease left is not sent, and one with less than a deadline left gets a shorter deadline', async () => {
    const id = await pendingDelivery();
    // After leasing, this worker's clock reads 19 s later: loading the delivery "took" nearly the whole lease.
    let reads = 0;
    const lagging: Clock = { now: () => t.clock.now() + (reads++ === 0 ? 0 : 19_000) };
    const laggingCalls: number[] = [];
    await worker(async () => (laggingCalls.push(1), answer(204)), lagging).drain();
    expect(laggingCalls).toHaveLength(0);

    // Another server sends it once that lease has run out, and only then.
    const fastCalls: number[] = [];
    const fast = worker(async () => (fastCalls.push(1), answer(204)));
    await fast.drain();
    expect(fastCalls).toHaveLength(0);
    t.clock.advance(LEASE_MS);
    const deadlines: (number | undefined)[] = [];
    // This one's clock reads 10 s later on each look: 10 s of its 20 s lease are gone when it sends.
    let late = 0;
    await worker(async (_url, _body, _headers, timeoutMs) => (deadlines.push(timeoutMs), answer(204)), { now: () => t.clock.now() + (late += 10_000) }).drain();
    expect(deadlines).toEqual([LEASE_MS - 10_000 - 2_500]);
    await fast.drain();
    expect(fastCalls).toHaveLength(0);
    const [delivery] = await deliveries(id);
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.status).toBe('succeeded');
  });

  it('gives an attempt the whole deadline when its lease is fresh', async () => {
    await pendingDelivery();
    const deadlines: (number | undefined)[] = [];
    await worker(async (_url, _body, _headers, timeoutMs) => (deadlines.push(timeoutMs), answer(204))).drain();
    expect(deadlines).toEqual([ATTEMPT_TIMEOUT_MS]);
  });
});
