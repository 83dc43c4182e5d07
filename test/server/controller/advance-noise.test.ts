/**
 * A shadow step advances on evidence, not on the absence of it. A field two
 * old runs sometimes differ in is taken for noise until the evidence says the
 * new path differs there more often: for a few hundred comparisons a rewrite
 * that mislabels 1 message in 6, in a field two old runs differ in 1 time in
 * 20, has every mismatch withdrawn and a 0 % mismatch rate. The controller
 * once auto-advanced it in that window (the real-SDK test in shadow-noise
 * saw it in about 1 run of 8); here the window is held still on a manual
 * clock, and the step waits, then pauses once the evidence is in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advanceBlocker } from '../../../server/controller/controller.ts';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const get = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}`)).body;

/** `n` shadow comparisons, every one differing in the per-run fields, `typed` of them in $.type as well; `n` double runs, n/20 differing in $.type. */
async function shadowRound(n: number, typed: number) {
  const second = Math.floor(t.clock.now() / 1000);
  await sendReport(t, {
    counts: [
      {
        rollout: 'hooks',
        cohort: 'shadow',
        path: 'shadow',
        second,
        received: n,
        processed: n,
        failed: 0,
        compared: n,
        mismatched: n,
        skipped: 0,
        dropped: 0,
        differences: [
          { paths: ['$.handledAt', '$.traceId'], count: n - typed },
          { paths: ['$.handledAt', '$.traceId', '$.type'], count: typed },
        ],
      } as any,
    ],
    noise: [{ rollout: 'hooks', paths: ['$.handledAt', '$.traceId', '$.type'], runs: n, counts: [n, n, n / 20] }],
  });
}

describe('advancing a shadow step past noise', () => {
  it('waits while a field is noise only for want of evidence, then pauses when the evidence says it is a difference', async () => {
    const plan = [{ live: 0, shadow: 100, minMessages: 100 }, { live: 25 }];
    expect((await t.call('POST', '/v1/rollouts', { body: { key: 'hooks', plan, autoAdvance: true, guards: { minSample: 100, maxMismatchRate: 0.02 } } })).status).toBe(201);
    await t.call('POST', '/v1/rollouts/hooks/start');
    // 200 comparisons, 42 (21 %) differing in $.type: not yet evidence against noise at 1 in 20.
    await shadowRound(200, 42);
    await t.rollcall.services.controller.tick();
    const health = (await t.call('GET', '/v1/rollouts/hooks/health')).body;
    const shadow = health.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 200, mismatched: 0, withdrawn: 200 });
    expect(health.health.status).not.toBe('breached');
    let rollout = await get('hooks');
    expect(rollout).toMatchObject({ state: 'running', step: 0 });
    // Why not, as the controller's own rule says it.
    const aggregate = await t.rollcall.services.rollouts.get('hooks');
    const measured = (await t.rollcall.services.health.measureMany([aggregate], { now: t.clock.now(), horizons: new Map() })).get(aggregate.rollout.id)!;
    expect(advanceBlocker(aggregate, measured, t.clock.now())).toMatch(/^not yet known whether \$\.type is noise/);
    // More of the same: the evidence comes in, $.type is a real difference, the shadow guard pauses the rollout.
    for (let i = 0; i < 10 && (await get('hooks')).state === 'running'; i++) {
      t.clock.advance(1_000);
      await shadowRound(200, 42);
      await t.rollcall.services.controller.tick();
    }
    rollout = await get('hooks');
    expect(rollout).toMatchObject({ state: 'paused', step: 0 });
    const audit = (await t.call('GET', '/v1/audit?rollout=hooks')).body.items;
    expect(audit.map((e: any) => e.action)).not.toContain('rollout.advanced');
    expect(audit.find((e: any) => e.action === 'guard.breached').after.guard).toBe('mismatch');
  });
});
