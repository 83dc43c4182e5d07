import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const cohortNames = async (key: string) => ((await t.call('GET', `/v1/rollouts/${key}/health`)).body.cohorts as { name: string }[]).map((c) => c.name);

describe('the shadow row', () => {
  it('is there while the step has a shadow band, and gone on a live step that sends nobody down both paths', async () => {
    await createRollout(t, 'r', { plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 20, shadow: 20 }] });
    await t.call('POST', '/v1/rollouts/r/start');
    expect(await cohortNames('r')).toContain('shadow');
    // Shadow traffic of the step before stays in the window; this step has no shadow band.
    await sendTraffic(t, 'r', 'shadow', 50, 0, 'shadow');
    t.clock.advance(2_000);
    expect((await t.call('POST', '/v1/rollouts/r/advance')).status).toBe(200);
    expect(await cohortNames('r')).toEqual(['c1', 'baseline']);
    // `shadow` equal to `live` is no band either.
    expect((await t.call('POST', '/v1/rollouts/r/advance')).status).toBe(200);
    expect(await cohortNames('r')).not.toContain('shadow');
  });

  it('a paused rollout advances only when the request says force, and stays paused', async () => {
    await createRollout(t, 'p', { plan: [{ live: 5 }, { live: 20 }] });
    await t.call('POST', '/v1/rollouts/p/start');
    await t.call('POST', '/v1/rollouts/p/pause', { body: { reason: 'looking' } });
    const refused = await t.call('POST', '/v1/rollouts/p/advance', { body: { reason: 'go' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'advance_needs_force', details: { state: 'paused', step: 1 } });
    expect(refused.body.error.message).toContain('p is paused (looking). advance would enter step 2 of 2 (live 20%) and leave it paused');
    const forced = await t.call('POST', '/v1/rollouts/p/advance', { body: { reason: 'go', force: true } });
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    expect(forced.body).toMatchObject({ state: 'paused', step: 1 });
  });
});
