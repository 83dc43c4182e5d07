import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { measureRollout } from '../../../server/health/measure.ts';
import { createRollout, createTestApp, statementsDuring, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

async function running(key: string, extra: Record<string, unknown> = {}) {
  await createRollout(t, key, { plan: [{ live: 20, shadow: 40 }, { live: 50 }], guards: { graceSeconds: 1, minSample: 10_000 }, ...extra });
  await t.call('POST', `/v1/rollouts/${key}/start`);
}

describe('the controller pass over many rollouts', () => {
  it('measures every rollout in grouped reads to exactly the figures it gets one at a time', async () => {
    // A completed rollout inside its watch is measured too (loss only).
    await createRollout(t, 'd', { plan: [{ live: 100 }], guards: { graceSeconds: 1, minSample: 10_000 } });
    await t.call('POST', '/v1/rollouts/d/start');
    await t.call('POST', '/v1/rollouts/d/complete', { body: { reason: 'done' } });
    for (const key of ['a', 'b', 'c']) await running(key);
    await t.call('POST', '/v1/rollouts/b/advance');
    // A reverted cohort keeps the window that ended at its revert.
    await t.call('POST', '/v1/rollouts/b/revert', { body: { cohort: 'c1', reason: 'by hand' } });
    await sendTraffic(t, 'a', 'c1', 40, 3);
    await sendTraffic(t, 'a', 'baseline', 90, 0, 'old');
    await sendTraffic(t, 'b', 'c2', 25, 5);
    await sendTraffic(t, 'b', 'pinned', 7, 0);
    // Past its shadow step, b's shadow cohort is measured for its traffic alone.
    await sendTraffic(t, 'b', 'shadow', 6, 0, 'shadow');
    await sendTraffic(t, 'c', 'shadow', 12, 0, 'shadow');
    await sendTraffic(t, 'd', 'completed', 20, 2);
    // Mismatches take the noise withdrawal's reads.
    const second = Math.floor(t.clock.now() / 1000);
    await sendReport(t, { counts: [{ rollout: 'c', cohort: 'shadow', path: 'shadow', second, received: 8, processed: 8, failed: 0, compared: 8, mismatched: 3, skipped: 0, dropped: 0 }] });
    t.clock.advance(1_500);
    await sendTraffic(t, 'a', 'c1', 10, 2); // received after the others: not yet due
    await t.rollcall.services.controller.tick(); // marks the due open messages lost
    t.clock.advance(300);

    const { rollouts, health } = t.rollcall.services;
    const aggregates = await rollouts.controlled();
    expect(aggregates.map((a) => a.rollout.key)).toEqual(['a', 'b', 'c', 'd']);
    // Read together (cohorts as JSON), each is what reading it alone gives.
    for (const aggregate of aggregates) expect(aggregate).toEqual(await rollouts.find(aggregate.rollout.key));
    const now = t.clock.now();
    const many = await health.measureMany(aggregates, { now, horizons: new Map() });
    for (const aggregate of aggregates) {
      const one = await measureRollout(t.database.db, aggregate, { now, guardsOnly: true });
      expect(many.get(aggregate.rollout.id), aggregate.rollout.key).toEqual(one);
    }
    // The figures are real ones: lost messages counted in the cohorts that lost them.
    const cohort = (key: string, name: string) => many.get(aggregates.find((a) => a.rollout.key === key)!.rollout.id)!.cohorts.find((c) => c.name === name);
    expect(cohort('a', 'c1')).toMatchObject({ received: 50, lost: 3 });
    expect(cohort('b', 'c2')).toMatchObject({ received: 25, lost: 5 });
    expect(cohort('b', 'pinned')).toMatchObject({ received: 7 });
    expect(cohort('b', 'shadow')).toMatchObject({ received: 6 });
    expect(cohort('c', 'shadow')).toMatchObject({ received: 20, mismatched: 3 });
    expect(cohort('d', 'completed')).toMatchObject({ received: 20, lost: 2 });
    expect(cohort('b', 'c1')).toMatchObject({ status: 'reverted' });
  });

  it('runs the same few statements for one rollout or many', async () => {
    await running('a');
    await sendTraffic(t, 'a', 'c1', 10, 0);
    const { controller } = t.rollcall.services;
    await controller.tick();
    const one = await statementsDuring(t, () => controller.tick());
    for (const key of ['b', 'c', 'd', 'e', 'f']) {
      await running(key);
      await sendTraffic(t, key, 'c1', 10, 0);
    }
    await controller.tick();
    const six = await statementsDuring(t, () => controller.tick());
    expect(one).toBeGreaterThan(0);
    expect(six).toBe(one);
  });

  it('still decides each rollout on its own: a breach in one reverts that one alone', async () => {
    await running('calm', { guards: { graceSeconds: 1, minSample: 10 } });
    await running('lossy', { guards: { graceSeconds: 1, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/calm/advance');
    await t.call('POST', '/v1/rollouts/lossy/advance');
    await sendTraffic(t, 'calm', 'c2', 30, 0);
    await sendTraffic(t, 'lossy', 'c2', 30, 6);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/lossy')).body).toMatchObject({ state: 'paused', cohorts: [{ name: 'c1', status: 'active' }, { name: 'c2', status: 'reverted' }] });
    expect((await t.call('GET', '/v1/rollouts/calm')).body).toMatchObject({ state: 'running', cohorts: [{ status: 'active' }, { status: 'active' }] });
  });
});
