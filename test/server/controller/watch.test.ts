import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const tick = () => t.rollcall.services.controller.tick();
const post = (path: string, body?: unknown) => t.call('POST', path, { body });
const get = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}`)).body;
const actions = async (key: string) => (await t.call('GET', `/v1/audit?rollout=${key}`)).body.items.map((e: any) => e.action).reverse();
/** The outbox, in the order it was written: what callbacks announce. */
const outbox = async (key: string) =>
  (await t.database.client.execute({ sql: 'SELECT type FROM callback_messages WHERE rollout_key = ? ORDER BY rowid', args: [key] })).rows.map((r) => String(r.type));

async function completed(key: string, extra: Record<string, unknown>) {
  await createRollout(t, key, { plan: [{ live: 100 }], guards: { graceSeconds: 5, minSample: 10 }, ...extra });
  await post(`/v1/rollouts/${key}/start`);
  t.clock.advance(60_000);
  await post(`/v1/rollouts/${key}/complete`, { reason: 'all good' });
  t.clock.advance(3_600_000);
}

describe('the watch after completion', () => {
  it('with revert-all, a loss after completion is announced and sends every partner back to old', async () => {
    await completed('r', { onBreach: 'revert-all' });
    await sendTraffic(t, 'r', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();
    const rollout = await get('r');
    expect(rollout).toMatchObject({ state: 'reverted', effectiveLive: 0, health: { status: 'reverted' } });
    expect((await actions('r')).slice(-2)).toEqual(['guard.breached', 'rollout.reverted']);
    expect(await outbox('r')).toEqual(['rollout.started', 'rollout.completed', 'messages.lost', 'guard.breached', 'rollout.reverted']);
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(10);
    // The snapshot SDKs evaluate now routes everyone to old.
    const config = (await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).body;
    expect(config.rollouts.find((r: any) => r.key === 'r')).toMatchObject({ state: 'reverted' });
  });

  it('with revert-cohort, it is announced once and shown breached; the rollout stays completed', async () => {
    await completed('r', {});
    await sendTraffic(t, 'r', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();
    await sendTraffic(t, 'r', 'c1', 100, 20);
    t.clock.advance(6_000);
    await tick();
    const rollout = await get('r');
    expect(rollout.state).toBe('completed');
    expect(rollout.health).toMatchObject({ status: 'breached', reason: expect.stringMatching(/^c1: guard loss breached after completion: loss 15\.0% vs tolerated 0\.100%: evidence passed 1\/α .* after 200 messages; 30 of 200 due messages lost/) });
    expect((await actions('r')).filter((a: string) => a === 'guard.breached')).toHaveLength(1);
    expect((await outbox('r')).filter((a) => a === 'guard.breached')).toHaveLength(1);
    expect(await outbox('r')).toContain('messages.lost');
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(30);
  });

  it('judges nothing once watchSeconds have passed, or at all with watchSeconds 0', async () => {
    await completed('off', { guards: { graceSeconds: 5, minSample: 10, watchSeconds: 0 } });
    await sendTraffic(t, 'off', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();
    expect(await get('off')).toMatchObject({ state: 'completed', health: { status: 'idle', reason: 'completed: every partner is on new; the watch after completion is over' } });
    expect(await actions('off')).not.toContain('guard.breached');
    expect((await t.call('GET', '/v1/rollouts/off/lost')).body.items).toHaveLength(0);

    await completed('short', { guards: { graceSeconds: 5, minSample: 10, watchSeconds: 60 } });
    await sendTraffic(t, 'short', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();
    expect(await actions('short')).not.toContain('guard.breached');
  });
});
