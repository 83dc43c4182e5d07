import { afterEach, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../server/app.ts';
import { loadConfig } from '../../../server/config.ts';
import { startReceiver, verify, type Received, type Receiver } from '../../helpers/receiver.ts';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

const loopback = loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow;
let t: TestApp;
let receivers: Receiver[] = [];

async function setup(callbacks: AppDeps['callbacks'] = {}) {
  // The clock starts at the real time so the reference verifier's 5-minute window is meaningful.
  t = await createTestApp({ start: Date.now(), deps: { callbacks: { allow: loopback, random: () => 0.5, ...callbacks } } });
}
afterEach(async () => {
  await t.close();
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}
async function subscribe(url: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const reply = await t.call('POST', '/v1/callbacks', { body: { url, ...extra } });
  expect(reply.status).toBe(201);
  return reply.body;
}
const drain = () => t.rollcall.services.worker.drain();
const deliveries = async (id: string) => (await t.call('GET', `/v1/callbacks/${id}/deliveries`)).body.items;
const post = (path: string, body?: unknown) => t.call('POST', path, { body });
const parsed = (r: Received) => JSON.parse(r.body);

/** A live rollout `r` with cohort c1 (5 %), whose c1 is then reverted by hand. */
async function revertC1(key = 'r') {
  await createRollout(t, key, { plan: [{ live: 5 }, { live: 50 }] });
  await post(`/v1/rollouts/${key}/start`, { reason: 'go' });
  return post(`/v1/rollouts/${key}/revert`, { cohort: 'c1', reason: 'partners report missing updates' });
}

describe('kill-switch callbacks', () => {
  it('announce a revert with the rollout, cohort, reason and version, signed per Standard Webhooks', async () => {
    await setup();
    const hook = await receiver();
    const { secret } = await subscribe(hook.url, { events: ['cohort.reverted'] });
    const reverted = await revertC1();
    await drain();
    expect(hook.received).toHaveLength(1);
    const request = hook.received[0]!;
    expect(request.headers['webhook-id']).toMatch(/^msg_/);
    expect(request.headers['content-type']).toBe('application/json');
    const body = verify(secret, request);
    expect(body).toEqual({
      type: 'cohort.reverted',
      timestamp: new Date(t.clock.now()).toISOString(),
      data: { rollout: 'r', version: reverted.body.version, state: 'paused', step: 0, live: 5, shadow: null, cohort: 'c1', reason: 'partners report missing updates', actor: t.keys.adminId, figures: null },
    });
  });

  it('retry a failed first attempt with the same webhook-id, every attempt verifying', async () => {
    await setup();
    const hook = await receiver();
    hook.answers.push({ status: 500, body: 'database is down' });
    const { id, secret } = await subscribe(hook.url, { events: ['cohort.reverted'] });
    await revertC1();
    await drain();
    expect(hook.received).toHaveLength(1);
    let [delivery] = await deliveries(id);
    expect(delivery).toMatchObject({ status: 'pending', lastStatus: 500 });
    expect(Date.parse(delivery.nextAttemptAt) - t.clock.now()).toBe(5_000);

    t.clock.advance(4_999);
    await drain();
    expect(hook.received).toHaveLength(1); // not due yet
    t.clock.advance(1);
    await drain();
    expect(hook.received).toHaveLength(2);
    const [first, second] = hook.received as [Received, Received];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    expect(verify(secret, first)).toEqual(verify(secret, second));
    [delivery] = await deliveries(id);
    expect(delivery).toMatchObject({ status: 'succeeded', messageId: first.headers['webhook-id'], type: 'cohort.reverted', rollout: 'r' });
    expect(delivery.attempts).toHaveLength(2);
    expect(delivery.attempts[0]).toMatchObject({ status: 500, error: 'answered 500', responseExcerpt: 'database is down', address: '127.0.0.1' });
    expect(delivery.attempts[0].latencyMs).toBeGreaterThanOrEqual(0);
    expect(delivery.attempts[1]).toMatchObject({ status: 204, error: null, nextAttemptAt: null });
  });

  it('run the whole retry schedule on the injected clock, then fail and audit the exhaustion', async () => {
    await setup();
    const hook = await receiver({ status: 503 });
    const { id, secret } = await subscribe(hook.url, { events: ['cohort.reverted'] });
    await revertC1();
    const gaps: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      await drain();
      expect(hook.received).toHaveLength(attempt);
      const [delivery] = await deliveries(id);
      if (delivery.status !== 'pending') break;
      const next = Date.parse(delivery.nextAttemptAt);
      gaps.push(next - t.clock.now());
      t.clock.set(next);
    }
    expect(gaps).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    const [delivery] = await deliveries(id);
    expect(delivery).toMatchObject({ status: 'failed', nextAttemptAt: null, lastStatus: 503 });
    expect(delivery.attempts).toHaveLength(8);
    for (const request of hook.received) expect(verify(secret, request).type).toBe('cohort.reverted');
    expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const exhausted = (await t.call('GET', '/v1/audit?rollout=r')).body.items.find((e: any) => e.action === 'callback.exhausted');
    expect(exhausted).toMatchObject({ actor: 'callbacks', subject: id, after: { attempts: 8, lastStatus: 503, type: 'cohort.reverted' } });
    t.clock.advance(48 * 3_600_000);
    await drain();
    expect(hook.received).toHaveLength(8);
  });

  it('wait as long as Retry-After asks on a 429', async () => {
    await setup();
    const hook = await receiver();
    hook.answers.push({ status: 429, headers: { 'retry-after': '600' } });
    const { id } = await subscribe(hook.url, { events: ['cohort.reverted'] });
    await revertC1();
    await drain();
    const [delivery] = await deliveries(id);
    expect(Date.parse(delivery.nextAttemptAt) - t.clock.now()).toBe(600_000);
  });

  it('disable only the subscription whose receiver answers 410', async () => {
    await setup();
    const gone = await receiver({ status: 410 });
    const kept = await receiver();
    const a = await subscribe(gone.url);
    const b = await subscribe(kept.url);
    await revertC1();
    await drain();
    expect((await t.call('GET', `/v1/callbacks/${a.id}`)).body).toMatchObject({ status: 'disabled', statusReason: 'the receiver answered 410 Gone' });
    expect((await t.call('GET', `/v1/callbacks/${b.id}`)).body.status).toBe('enabled');
    const goneCount = gone.received.length;
    expect(goneCount).toBeGreaterThanOrEqual(1);
    // Pending deliveries to the gone receiver were cancelled; nothing new is queued for it.
    expect((await deliveries(a.id)).filter((d: any) => d.status === 'pending')).toEqual([]);
    await post('/v1/rollouts/r/resume', { reason: 'retry' });
    await drain();
    expect(gone.received).toHaveLength(goneCount);
    expect(kept.received.map((r) => parsed(r).type).sort()).toEqual(['cohort.reverted', 'rollout.resumed', 'rollout.started']);
    const disabled = (await t.call('GET', '/v1/audit')).body.items.find((e: any) => e.action === 'callback.disabled');
    expect(disabled).toMatchObject({ actor: 'callbacks', subject: a.id });
  });

  it('refuse at creation a hostname that resolves only to addresses callbacks may not reach, naming ROLLCALL_CALLBACK_ALLOW', async () => {
    const names: Record<string, string> = { 'metadata.internal': '169.254.169.254', 'billing.internal': '10.20.30.40', localhost: '127.0.0.1' };
    await setup({ allow: [], resolve: async (host) => (names[host] ? [{ address: names[host]!, family: 4 }] : []) });
    for (const url of ['http://localhost:9999/hooks', 'http://billing.internal/hooks', 'http://127.0.0.1:9999/hooks']) {
      const refused = await post('/v1/callbacks', { url });
      expect(refused.status, url).toBe(400);
      expect(refused.body.error.code).toBe('callback_address_refused');
      expect(refused.body.error.message).toMatch(/not listed in ROLLCALL_CALLBACK_ALLOW .*for example 127\.0\.0\.0\/8/);
    }
    const meta = await post('/v1/callbacks', { url: 'http://metadata.internal/latest/meta-data/iam' });
    expect(meta.body.error.message).toMatch(/metadata\.internal resolves only to addresses callbacks may not reach: 169\.254\.169\.254 is a link-local, metadata/);
    // A name that does not resolve now may later: accepted, and every attempt's log says what it met.
    expect((await post('/v1/callbacks', { url: 'http://not-yet.internal/hooks' })).status).toBe(201);
  });

  it('never call a metadata or unlisted private address, whatever a hostname resolves to at delivery', async () => {
    // Public when the subscriptions were made, rebound to refused addresses before the attempt.
    const names: Record<string, string> = { 'metadata.internal': '93.184.216.34', 'billing.internal': '93.184.216.34' };
    await setup({ resolve: async (host) => (names[host] ? [{ address: names[host]!, family: 4 }] : []) });
    const meta = await subscribe('http://metadata.internal/latest/meta-data/iam', { events: ['cohort.reverted'] });
    const internal = await subscribe('http://billing.internal/hooks', { events: ['cohort.reverted'] });
    Object.assign(names, { 'metadata.internal': '169.254.169.254', 'billing.internal': '10.20.30.40' });
    await revertC1();
    await drain();
    const [m] = await deliveries(meta.id);
    expect(m.attempts[0]).toMatchObject({ status: null, address: null });
    expect(m.attempts[0].error).toMatch(/refused: metadata\.internal .*metadata/);
    const [i] = await deliveries(internal.id);
    expect(i.attempts[0].error).toMatch(/refused: billing\.internal .*ROLLCALL_CALLBACK_ALLOW/);
  });

  it('sign with the old and the new secret for 24 h after a rotation; a tampered body verifies with neither', async () => {
    await setup();
    const hook = await receiver();
    const { id, secret: old } = await subscribe(hook.url, { events: ['cohort.reverted', 'rollout.resumed'] });
    const { secret: fresh } = (await post(`/v1/callbacks/${id}/rotate-secret`)).body;
    await revertC1();
    await drain();
    const request = hook.received[0]!;
    expect(verify(fresh, request).type).toBe('cohort.reverted');
    expect(verify(old, request).type).toBe('cohort.reverted');
    const tampered = { ...request, body: request.body.replace('"c1"', '"c2"') };
    expect(() => verify(fresh, tampered)).toThrow(/No matching signature/);
    expect(() => verify(old, tampered)).toThrow(/No matching signature/);

    t.clock.advance(24 * 3_600_000);
    await post('/v1/rollouts/r/resume');
    await drain();
    const later = hook.received[1]!;
    expect(verify(fresh, later).type).toBe('rollout.resumed');
    expect(() => verify(old, later)).toThrow(/No matching signature/);
  });

  it('redeliver one failed delivery, and everything failed since a time, oldest first, once each', async () => {
    await setup({ concurrency: 1 });
    const hook = await receiver({ status: 500 });
    const { id, secret } = await subscribe(hook.url);
    const since = t.clock.now();
    await createRollout(t, 'r', { plan: [{ live: 5 }, { live: 50 }] });
    await post('/v1/rollouts/r/start');
    t.clock.advance(1_000);
    await post('/v1/rollouts/r/advance');
    t.clock.advance(1_000);
    await post('/v1/rollouts/r/revert', { cohort: 'c2', reason: 'drops' });
    for (let i = 0; i < 8; i++) {
      await drain();
      t.clock.advance(11 * 3_600_000);
    }
    const failed = await deliveries(id);
    expect(failed.map((d: any) => [d.type, d.status])).toEqual([['cohort.reverted', 'failed'], ['rollout.advanced', 'failed'], ['rollout.started', 'failed']]);
    hook.received.length = 0;
    hook.fallback = { status: 200 };

    const one = await post(`/v1/deliveries/${failed[1].id}/retry`);
    expect(one.status).toBe(200);
    await drain();
    expect(hook.received.map((r) => r.headers['webhook-id'])).toEqual([failed[1].messageId]);
    expect(verify(secret, hook.received[0]!).type).toBe('rollout.advanced');

    hook.received.length = 0;
    const recovered = await post(`/v1/callbacks/${id}/recover`, { since: new Date(since).toISOString() });
    expect(recovered.body).toMatchObject({ queued: 2, more: false });
    expect((await post(`/v1/callbacks/${id}/recover`, { since })).body.queued).toBe(0);
    await drain();
    expect(hook.received.map((r) => parsed(r).type)).toEqual(['rollout.started', 'cohort.reverted']);
    expect((await deliveries(id)).map((d: any) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Once each: nothing more arrives later.
    t.clock.advance(24 * 3_600_000);
    await drain();
    expect(hook.received).toHaveLength(2);
    // A recovery from after the failures finds nothing.
    expect((await post(`/v1/callbacks/${id}/recover`, { since: t.clock.now() })).body.queued).toBe(0);
  });

  it('deliver only the events and the rollout a subscription asked for', async () => {
    await setup();
    const onlyR = await receiver();
    const onlyPauses = await receiver();
    await subscribe(onlyR.url, { rollout: 'r' });
    await subscribe(onlyPauses.url, { events: ['rollout.paused'] });
    await revertC1('other');
    await revertC1('r');
    await post('/v1/rollouts/r/resume');
    await post('/v1/rollouts/r/pause', { reason: 'hold' });
    await drain();
    expect(new Set(onlyR.received.map((r) => parsed(r).data.rollout))).toEqual(new Set(['r']));
    expect(onlyR.received.map((r) => parsed(r).type).sort()).toEqual(['cohort.reverted', 'rollout.paused', 'rollout.resumed', 'rollout.started']);
    expect(onlyPauses.received.map((r) => [parsed(r).type, parsed(r).data.rollout])).toEqual([['rollout.paused', 'r']]);
  });

  it('write the event with the decision even when no worker runs here, and not at all when the decision is refused', async () => {
    await setup({ concurrency: 0 });
    const hook = await receiver();
    const { id } = await subscribe(hook.url, { events: ['cohort.reverted'] });
    await revertC1();
    const stale = await t.call('POST', '/v1/rollouts/r/revert', { body: { reason: 'again' }, headers: { 'if-match': '1' } });
    expect(stale.status).toBe(409);
    await drain();
    expect(hook.received).toHaveLength(0);
    const outbox = await t.database.client.execute("SELECT type FROM callback_messages WHERE rollout_key = 'r' ORDER BY created_at, type");
    expect(outbox.rows.map((r) => r.type)).toEqual(['cohort.reverted', 'rollout.started']);
    expect((await deliveries(id)).map((d: any) => [d.type, d.status])).toEqual([['cohort.reverted', 'pending']]);
  });
});

describe('automatic decisions', () => {
  it('announce a breach with its figures, then the revert it caused', async () => {
    await setup();
    const hook = await receiver();
    const { secret } = await subscribe(hook.url);
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 } });
    await post('/v1/rollouts/r/start');
    await sendTraffic(t, 'r', 'c1', 100, 10);
    t.clock.advance(6_000);
    await t.rollcall.services.controller.tick();
    await drain();
    const events = Object.fromEntries(hook.received.map((r) => [parsed(r).type, verify(secret, r)]));
    expect(Object.keys(events).sort()).toEqual(['cohort.reverted', 'guard.breached', 'messages.lost', 'rollout.started']);
    expect(events['guard.breached'].data).toMatchObject({ rollout: 'r', cohort: 'c1', actor: 'controller', figures: { guard: 'loss', onBreach: 'revert-cohort', cohort: { received: 100, lost: 10 } } });
    expect(events['guard.breached'].data.reason).toMatch(/guard loss breached in c1/);
    expect(events['cohort.reverted'].data).toMatchObject({ cohort: 'c1', state: 'paused', figures: { guard: 'loss' } });
    expect(events['messages.lost'].data).toMatchObject({ cohort: 'c1', figures: { count: 10, byCohort: { c1: 10 } } });
    expect(events['messages.lost'].data.figures.sampleMessageIds).toHaveLength(10);
  });

  it('announce lost messages at once, then at most every 30 s with everything found since', async () => {
    await setup();
    const hook = await receiver();
    await subscribe(hook.url, { events: ['messages.lost'] });
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 100_000 } });
    await post('/v1/rollouts/r/start');
    const lostEvents = () => hook.received.map((r) => parsed(r).data.figures.count);
    const tick = async () => {
      await t.rollcall.services.controller.tick();
      await drain();
    };
    await sendTraffic(t, 'r', 'c1', 10, 3);
    t.clock.advance(6_000);
    await tick();
    expect(lostEvents()).toEqual([3]);
    for (const open of [2, 4]) {
      await sendTraffic(t, 'r', 'c1', 10, open);
      t.clock.advance(6_000);
      await tick();
    }
    expect(lostEvents()).toEqual([3]); // 12 s since the first announcement
    t.clock.advance(18_000);
    await tick();
    expect(lostEvents()).toEqual([3, 6]);
    t.clock.advance(60_000);
    await tick();
    expect(lostEvents()).toEqual([3, 6]); // nothing new was lost
  });
});

describe('the order of events', () => {
  it('a receiver gets guard.breached before the cohort.reverted of the same decision, for every rollout', async () => {
    await setup();
    const hook = await receiver();
    await subscribe(hook.url, { events: ['guard.breached', 'cohort.reverted'] });
    const keys = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'];
    for (const key of keys) {
      await createRollout(t, key, { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 } });
      await post(`/v1/rollouts/${key}/start`);
      await sendTraffic(t, key, 'c1', 100, 10);
    }
    t.clock.advance(6_000);
    await t.rollcall.services.controller.tick();
    await drain();
    const got = hook.received.map(parsed).map((b) => `${b.data.rollout} ${b.type}`);
    // Deliveries to one subscription go out one after another, in the order each decision wrote them.
    expect(got).toEqual(keys.flatMap((k) => [`${k} guard.breached`, `${k} cohort.reverted`]));
  });
});
