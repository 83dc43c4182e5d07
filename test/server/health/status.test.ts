import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const tick = () => t.rollcall.services.controller.tick();
const post = (path: string, body?: unknown) => t.call('POST', path, { body });

/** The status as the list, the item and /health each show it: they must agree. */
async function statuses(key: string) {
  const list = (await t.call('GET', '/v1/rollouts')).body.items.find((r: any) => r.key === key);
  const item = (await t.call('GET', `/v1/rollouts/${key}`)).body;
  const health = (await t.call('GET', `/v1/rollouts/${key}/health`)).body;
  expect(list.health).toEqual({ status: item.health.status, reason: item.health.reason });
  expect(health.health).toEqual(list.health);
  return { ...list.health, list, item, health };
}

const metric = async (name: string) => {
  const text = (await t.call('GET', '/metrics')).text;
  return Object.fromEntries(text.split('\n').filter((l) => l.startsWith(name)).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
};

describe('one health status per rollout and cohort', () => {
  it('a cohort reverted by a guard: reverted with the guard and figures, never healthy, 0 % really on new, its figures kept', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 } });
    await post('/v1/rollouts/r/start');
    await sendTraffic(t, 'r', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();
    const s = await statuses('r');
    expect(s.status).toBe('reverted');
    expect(s.reason).toMatch(/^c1 reverted by a guard \(controller\): guard loss breached in c1: loss 10\.0% vs tolerated 0\.100%: evidence passed 1\/α \(.*\) after 100 messages; 10 of 100 due messages lost/);
    expect(s.list).toMatchObject({ live: 50, effectiveLive: 0, effectiveShadow: 0 });
    expect(s.item).toMatchObject({ live: 50, effectiveLive: 0 });
    // Its figures up to the revert stay on its row, with its own status.
    const c1 = s.health.cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ received: 100, lost: 10, health: { status: 'reverted' } });
    expect(await metric('rollcall_rollout_effective_live_basis_points')).toEqual({ 'rollcall_rollout_effective_live_basis_points{rollout="r"}': 0 });
    expect(await metric('rollcall_rollout_live_basis_points')).toEqual({ 'rollcall_rollout_live_basis_points{rollout="r"}': 5000 });
    const health = await metric('rollcall_rollout_health{rollout="r"');
    expect(health).toEqual({
      'rollcall_rollout_health{rollout="r",status="healthy"}': 0,
      'rollcall_rollout_health{rollout="r",status="breached"}': 0,
      'rollcall_rollout_health{rollout="r",status="reverted"}': 1,
      'rollcall_rollout_health{rollout="r",status="degraded"}': 0,
      'rollcall_rollout_health{rollout="r",status="idle"}': 0,
    });

    // Brought back, c1 is measured afresh; the 10 lost messages still wait for replay: degraded.
    expect((await post('/v1/rollouts/r/resume', { cohorts: ['c1'], reason: 'fixed' })).status).toBe(200);
    const back = await statuses('r');
    expect(back).toMatchObject({ status: 'degraded', reason: '10 lost messages waiting for replay' });
    expect(back.list.effectiveLive).toBe(50);
    // Replayed, nothing is pending: too few messages since the return to judge.
    const claimed = (await t.call('POST', '/v1/sdk/replay/claim', { key: t.keys.sdk, body: { instanceId: 'i', rollouts: ['r'] } })).body.items;
    expect(claimed).toHaveLength(10);
    await t.call('POST', '/v1/sdk/replay/ack', { key: t.keys.sdk, body: { instanceId: 'i', items: claimed.map((m: any) => ({ rollout: 'r', messageId: m.messageId, ok: true })) } });
    expect(await statuses('r')).toMatchObject({ status: 'idle', reason: 'c1: 0 of 10 due messages; 10 more before it is called healthy (a guard acts sooner on strong evidence)' });
  });

  it('a cohort reverted by hand, then brought back from running in one call naming it', async () => {
    await createRollout(t, 'r', { plan: [{ live: 20 }, { live: 60 }], guards: { graceSeconds: 5, minSample: 10 } });
    await post('/v1/rollouts/r/start');
    await sendTraffic(t, 'r', 'c1', 50, 0);
    t.clock.advance(6_000);
    expect(await statuses('r')).toMatchObject({ status: 'healthy', reason: 'c1: no guard breached over 50 due messages' });
    await post('/v1/rollouts/r/revert', { cohort: 'c1', reason: 'partner 42 reports duplicates' });
    // A plain resume leaves a hand-reverted cohort on old: still reverted, never healthy.
    await post('/v1/rollouts/r/resume', { reason: 'go on' });
    const s = await statuses('r');
    expect(s.list.state).toBe('running');
    expect(s).toMatchObject({ status: 'reverted', reason: expect.stringMatching(/^c1 reverted by hand \(.+\): partner 42 reports duplicates$/) });
    expect(s.list.effectiveLive).toBe(0);
    await post('/v1/rollouts/r/advance', { reason: 'c2 next' });
    expect((await statuses('r')).list).toMatchObject({ live: 60, effectiveLive: 40 });
    expect((await post('/v1/rollouts/r/resume', { cohorts: ['c1'], reason: 'duplicates explained' })).status).toBe(200);
    const back = await statuses('r');
    expect(back.list).toMatchObject({ state: 'running', effectiveLive: 60 });
    expect(back).toMatchObject({ status: 'idle', reason: 'c1: 0 of 10 due messages; 10 more before it is called healthy (a guard acts sooner on strong evidence); c2: 0 of 10 due messages; 10 more before it is called healthy (a guard acts sooner on strong evidence)' });
    await sendTraffic(t, 'r', 'c1', 30, 0);
    await sendTraffic(t, 'r', 'c2', 30, 0);
    t.clock.advance(6_000);
    expect((await statuses('r')).status).toBe('healthy');
  });

  it('a shadow step: idle says how many comparisons are missing, degraded when most were skipped, and it does not advance on skipped ones', async () => {
    await createRollout(t, 'r', { plan: [{ live: 0, shadow: 10 }, { live: 10 }], autoAdvance: true, guards: { graceSeconds: 5, minSample: 100 } });
    await post('/v1/rollouts/r/start');
    const now = Math.floor(t.clock.now() / 1000);
    const counts = (compared: number, skipped: number) => [{ rollout: 'r', cohort: 'shadow', path: 'shadow' as const, second: now, received: compared + skipped, processed: compared + skipped, failed: 0, compared, mismatched: 0, skipped, dropped: 0 }];
    await sendReport(t, { counts: counts(40, 10) });
    expect(await statuses('r')).toMatchObject({ status: 'idle', reason: 'shadow: 40 of 100 compared (10 skipped); 60 more before it is called healthy (a guard acts sooner on strong evidence)' });
    await sendReport(t, { counts: counts(40, 290) });
    t.clock.advance(6_000);
    await tick();
    const s = await statuses('r');
    expect(s).toMatchObject({ status: 'degraded', reason: 'shadow: comparisons mostly skipped (300 skipped, 80 compared)' });
    expect(s.health.cohorts.find((c: any) => c.name === 'shadow')).toMatchObject({ compared: 80, skipped: 300, received: 380 });
    expect(s.item.step).toBe(0);
  });

  it('a draft and a reverted rollout', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10 }] });
    expect(await statuses('r')).toMatchObject({ status: 'idle', reason: 'not started: every partner is on old' });
    await post('/v1/rollouts/r/start');
    await post('/v1/rollouts/r/revert', { reason: 'wrong build' });
    expect(await statuses('r')).toMatchObject({ status: 'reverted', reason: 'the whole rollout was reverted: wrong build' });
  });
});
