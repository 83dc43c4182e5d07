import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '@rollcall/protocol';
import { createRollout, createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const report = (parts: Partial<ReportBatch>) => sendReport(t, parts);

const get = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}`)).body;

describe('health over the API', () => {
  it('reports figures, rates, thresholds, latency and replay progress per cohort', async () => {
    // minSample 50: c1's 40 settled messages are measured, not yet judged.
    await createRollout(t, 'r', { plan: [{ live: 50, shadow: 80 }], guards: { graceSeconds: 5, minSample: 50 } });
    await t.call('POST', '/v1/rollouts/r/start');
    const second = Math.floor(t.clock.now() / 1000);
    await report({
      counts: [
        { rollout: 'r', cohort: 'c1', path: 'new', second, received: 40, processed: 38, failed: 2, compared: 0, mismatched: 0, skipped: 0, dropped: 0, latency: [40, 38, 60, 2] },
        { rollout: 'r', cohort: 'baseline', path: 'old', second, received: 60, processed: 60, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, latency: [44, 60] },
        { rollout: 'r', cohort: 'shadow', path: 'shadow', second, received: 30, processed: 30, failed: 0, compared: 30, mismatched: 0, skipped: 0, dropped: 0, candidateLatency: [50, 30] },
      ],
    });
    const health = (await t.call('GET', '/v1/rollouts/r/health?window=300', { key: t.keys.read })).body;
    expect(health).toMatchObject({ rollout: 'r', window: { seconds: 300 }, thresholds: { graceSeconds: 5, minSample: 50, maxLossRate: 0.001 }, breached: false });
    const c1 = health.cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ kind: 'band', status: 'active', band: { from: 0, to: 5000 }, received: 40, processed: 38, failed: 2, due: 0, lost: 0 });
    expect(c1.rates.failure).toBeCloseTo(0.05);
    expect(c1.rates.failureDelta).toBeCloseTo(0.05);
    expect(c1.latencyMs.p50).toBeCloseTo(2 ** (40 / 4) / 1000);
    expect(health.latencyMs.new.p99).toBeCloseTo(2 ** (60 / 4) / 1000);
    expect(health.latencyMs.old.p50).toBeCloseTo(2 ** (44 / 4) / 1000);
    expect(health.cohorts.map((c: any) => c.name)).toEqual(['c1', 'shadow', 'baseline']);
    expect(health.replay).toEqual({ lost: 0, leased: 0, replayed: 0, late: 0 });
    const summary = (await get('r')).health;
    expect(summary.cohorts.find((c: any) => c.name === 'c1')).toMatchObject({ received: 40, failed: 2, breached: false });
    expect((await t.call('GET', '/v1/rollouts/r/health?window=1')).status).toBe(400);
    expect((await t.call('GET', '/v1/rollouts/nope/health')).status).toBe(404);
  });
});
