import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type ClientOptions, type RollcallClient } from '../../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
const partners = Array.from({ length: 4000 }, (_, i) => `partner-${i}`);
const inBand = (salt: string, lo: number, hi: number) => partners.filter((p) => positionOf(salt, p) >= lo && positionOf(salt, p) < hi);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let live: LiveServer;
const clients: RollcallClient[] = [];
beforeEach(async () => {
  live = await startLiveServer({ tickMs: 100 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await live.close();
});

async function client(options: Partial<ClientOptions> = {}) {
  const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 200, ...options });
  clients.push(rc);
  await rc.ready();
  return rc;
}

async function startRollout(key: string, body: Record<string, unknown>) {
  expect((await live.api('POST', '/v1/rollouts', { key, ...body })).status).toBe(201);
  expect((await live.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
}

const get = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}`)).body;
const audit = async (key: string) => (await live.api('GET', `/v1/audit?rollout=${key}`)).body.items as any[];
const lostIds = async (key: string, status = 'lost') => (await live.api('GET', `/v1/rollouts/${key}/lost?status=${status}&limit=1000`)).body.items.map((m: any) => m.messageId).sort();

/** Sends `count` messages for partners of the cohort band; every `dropEvery`-th is received and never processed. */
function sendWithDrops(rc: RollcallClient, key: string, members: string[], count: number, dropEvery: number): string[] {
  const dropped: string[] = [];
  for (let i = 0; i < count; i++) {
    const message = { partnerId: members[i % members.length]!, messageId: `${key}-${i}` };
    rc.received(key, message);
    if (i % dropEvery === 0) dropped.push(message.messageId);
    else rc.processed(key, message);
  }
  return dropped.sort();
}

describe('the controller', () => {
  it('reverts a live cohort that silently drops messages within grace + 2 s, and lists exactly the dropped ids', async () => {
    await startRollout('hooks', { plan: [{ live: 50 }], guards: { graceSeconds: 2, minSample: 20 } });
    const rc = await client();
    const members = inBand('hooks', 0, 5000);
    const reverts: unknown[] = [];
    rc.on('revert', (e) => reverts.push(e));
    const sent = Date.now();
    const dropped = sendWithDrops(rc, 'hooks', members, 100, 5);
    await rc.flush();
    await waitFor(() => rc.path('hooks', members[0]!) === 'old', 6_000, 'the revert to reach the SDK');
    expect(Date.now() - sent).toBeLessThan(2_000 + 2_000);
    expect(reverts).toMatchObject([{ rollout: 'hooks', cohort: 'c1' }]);
    const rollout = await get('hooks');
    expect(rollout.state).toBe('paused');
    expect(rollout.cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted', revertKind: 'breach', revertedBy: 'controller' });
    // The 100 messages were received over a few milliseconds, so a controller tick can fall
    // among their due times: the revert may come from the first of them, and the rest are
    // marked lost by the following ticks.
    await waitFor(async () => (await lostIds('hooks')).length === dropped.length, 2_000, 'every dropped id to be marked lost');
    expect(await lostIds('hooks')).toEqual(dropped);
    const entries = await audit('hooks');
    expect(entries.slice(0, 2).map((e) => [e.action, e.actor])).toEqual([
      ['cohort.reverted', 'controller'],
      ['guard.breached', 'controller'],
    ]);
    expect(entries[1]).toMatchObject({ subject: 'c1', after: { guard: 'loss', onBreach: 'revert-cohort' } });
    const { lost, due } = entries[1].after.figures.cohort;
    expect(lost).toBeGreaterThanOrEqual(1);
    expect(lost).toBeLessThanOrEqual(20);
    expect(due).toBeGreaterThanOrEqual(20);
    expect(due).toBeLessThanOrEqual(100);
    // The other partners were never affected.
    expect(rc.path('hooks', inBand('hooks', 5000, 10_000)[0]!)).toBe('old');
  });

  it('reverts on a failure rate above the baseline, and not on an outage that hits both paths', async () => {
    await startRollout('jobs', { plan: [{ live: 50 }], guards: { minSample: 50 } });
    await startRollout('outage', { plan: [{ live: 50 }], guards: { minSample: 50 } });
    const rc = await client();
    const run = (key: string, i: number, failOld: boolean) =>
      rc
        .run(key, { partnerId: partners[i]!, messageId: `${key}-${i}` }, {
          old: () => (failOld && i % 10 < 3 ? Promise.reject(new Error('downstream 503')) : 'ok'),
          new: () => (i % 10 < 3 ? Promise.reject(new Error('downstream 503')) : 'ok'),
        })
        .catch(() => undefined);
    for (let i = 0; i < 400; i++) {
      await run('jobs', i, false);
      await run('outage', i, true);
    }
    await rc.flush();
    await waitFor(async () => (await get('jobs')).cohorts[0].status === 'reverted', 5_000, 'jobs to be reverted');
    const breach = (await audit('jobs')).find((e) => e.action === 'guard.breached');
    expect(breach.after.guard).toBe('failure');
    await sleep(1_000);
    const outage = await get('outage');
    expect(outage.state).toBe('running');
    expect(outage.cohorts[0].status).toBe('active');
    const health = (await live.api('GET', '/v1/rollouts/outage/health')).body;
    const c1 = health.cohorts.find((c: any) => c.name === 'c1');
    const baseline = health.cohorts.find((c: any) => c.name === 'baseline');
    expect(c1.rates.failure).toBeCloseTo(0.3, 1);
    expect(baseline.rates.failure).toBeCloseTo(0.3, 1);
    expect(health.breached).toBe(false);
  });

  it('stops a rollout whose new path mislabels events in shadow before any partner goes live', async () => {
    const plan = [{ live: 0, shadow: 100, minMessages: 20 }, { live: 25 }];
    await startRollout('types', { plan, autoAdvance: true, guards: { minSample: 20 } });
    await startRollout('types-ok', { plan, autoAdvance: true, guards: { minSample: 20 } });
    const rc = await client();
    for (let i = 0; i < 60; i++) {
      const message = (key: string) => ({ partnerId: partners[i]!, messageId: `${key}-${i}` });
      // A cached handler instance processes some events as the wrong type.
      await rc.run('types', message('types'), { old: () => ({ type: 'invoice.paid', id: i }), new: () => ({ type: i % 4 === 0 ? 'invoice.created' : 'invoice.paid', id: i }) });
      await rc.run('types-ok', message('types-ok'), { old: () => ({ type: 'invoice.paid', id: i }), new: () => ({ type: 'invoice.paid', id: i }) });
    }
    await sleep(50);
    await rc.flush();
    await waitFor(async () => (await get('types-ok')).step === 1, 5_000, 'the healthy rollout to auto-advance');
    const stopped = await get('types');
    expect(stopped).toMatchObject({ state: 'paused', step: 0, cohorts: [] });
    expect((await audit('types')).find((e) => e.action === 'guard.breached').after.guard).toBe('mismatch');
    const samples = (await live.api('GET', '/v1/rollouts/types/mismatches')).body.items;
    expect(samples[0].diffs).toEqual([{ path: '$.type', old: 'invoice.paid', new: 'invoice.created' }]);
    expect((await get('types-ok')).cohorts).toMatchObject([{ name: 'c1', to: 2500 }]);
  });

  it('with onBreach pause, freezes without reverting', async () => {
    await startRollout('frozen', { plan: [{ live: 50 }, { live: 100 }], onBreach: 'pause', guards: { graceSeconds: 1, minSample: 20 } });
    const rc = await client();
    const members = inBand('frozen', 0, 5000);
    sendWithDrops(rc, 'frozen', members, 50, 5);
    await rc.flush();
    await waitFor(async () => (await get('frozen')).state === 'paused', 5_000, 'the pause');
    const rollout = await get('frozen');
    expect(rollout.cohorts[0].status).toBe('active');
    expect(rc.path('frozen', members[0]!)).toBe('new');
    expect((await audit('frozen')).map((e) => e.action).slice(0, 2)).toEqual(['rollout.paused', 'guard.breached']);
  });

  it('resume retries a cohort a breach reverted, measuring it afresh', async () => {
    await startRollout('retry', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } });
    const rc = await client();
    const members = inBand('retry', 0, 5000);
    sendWithDrops(rc, 'retry', members, 50, 5);
    await rc.flush();
    await waitFor(async () => (await get('retry')).cohorts[0].status === 'reverted', 5_000, 'the revert');
    const resumed = await live.api('POST', '/v1/rollouts/retry/resume', { reason: 'fixed the consumer' });
    expect(resumed.body).toMatchObject({ state: 'running', cohorts: [{ name: 'c1', status: 'active' }] });
    await waitFor(() => rc.path('retry', members[0]!) === 'new', 2_000, 'the SDK to route new again');
    await sleep(1_500);
    expect((await get('retry')).state).toBe('running');
  });

  it('replays lost ids through two SDK instances, each id once, and marks late settlements late', async () => {
    await startRollout('replay', { plan: [{ live: 50 }], onBreach: 'pause', guards: { graceSeconds: 1, minSample: 1_000 } });
    const sender = await client();
    const members = inBand('replay', 0, 5000);
    const dropped = sendWithDrops(sender, 'replay', members, 60, 4);
    const slow = { partnerId: members[0]!, messageId: 'slow-one' };
    sender.received('replay', slow);
    await sender.flush();
    await waitFor(async () => (await lostIds('replay')).length === dropped.length + 1, 5_000, 'the losses to be found');
    sender.processed('replay', slow);
    await sender.flush();
    await waitFor(async () => (await lostIds('replay', 'late')).includes('slow-one'), 3_000, 'the late report');

    const seen: string[] = [];
    for (let i = 0; i < 2; i++) {
      const replayer = await client({ replay: { intervalMs: 50 } });
      replayer.onReplay('replay', async ({ messageId }) => {
        seen.push(messageId);
        await sleep(5);
      });
    }
    await waitFor(async () => (await lostIds('replay')).length === 0, 8_000, 'the lost list to empty');
    expect(seen.sort()).toEqual(dropped);
    expect(await lostIds('replay', 'replayed')).toEqual(dropped);
    const health = (await live.api('GET', '/v1/rollouts/replay/health')).body;
    expect(health.replay).toEqual({ lost: 0, leased: 0, replayed: dropped.length, late: 1 });
  });

  it('never lets a replay round outlive its lease: with slow handlers on two instances, every lost id is replayed exactly once', async () => {
    await startRollout('slow-replay', { plan: [{ live: 50 }], onBreach: 'pause', guards: { graceSeconds: 1, minSample: 1_000 } });
    const sender = await client();
    const dropped = sendWithDrops(sender, 'slow-replay', inBand('slow-replay', 0, 5000), 96, 4);
    await sender.flush();
    await waitFor(async () => (await lostIds('slow-replay')).length === dropped.length, 5_000, 'the losses to be found');
    expect(dropped.length).toBeGreaterThanOrEqual(20);

    // The shortest lease the server grants (5 s) and handlers of 250 ms one at a time: the 24 ids one instance
    // claims at once take it 6 s, longer than their lease.
    const seen: string[] = [];
    for (let i = 0; i < 2; i++) {
      const replayer = await client({ replay: { intervalMs: 50, leaseSeconds: 5, concurrency: 1 } });
      replayer.onReplay('slow-replay', async ({ messageId }) => {
        seen.push(messageId);
        await sleep(250);
      });
    }
    await waitFor(async () => (await lostIds('slow-replay')).length === 0, 25_000, 'the lost list to empty');
    expect(seen.sort()).toEqual(dropped);
    expect(await lostIds('slow-replay', 'replayed')).toEqual(dropped);
  }, 40_000);

  it('reconciles received in one process with processed in another', async () => {
    await startRollout('split', { plan: [{ live: 100 }], guards: { graceSeconds: 1, minSample: 10 } });
    const web = await client();
    const worker = await client();
    for (let i = 0; i < 30; i++) web.received('split', { partnerId: partners[i]!, messageId: `x-${i}` });
    await web.flush();
    for (let i = 0; i < 30; i++) worker.processed('split', { partnerId: partners[i]!, messageId: `x-${i}` });
    await worker.flush();
    await sleep(1_500);
    const c1 = (await live.api('GET', '/v1/rollouts/split/health')).body.cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ received: 30, processed: 30, lost: 0, due: 30 });
    expect((await get('split')).state).toBe('running');
  });
});
