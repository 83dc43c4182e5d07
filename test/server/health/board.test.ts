/**
 * The status board: lists, the dashboard list and /metrics read statuses
 * judged together in a few grouped reads, each at most BOARD_TTL_MS old and
 * for its rollout's version, never a fresh measurement per rollout; and they
 * say exactly what a rollout's own /health says.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOARD_TTL_MS } from '../../../server/health/service.ts';
import { createRollout, createTestApp, statementsDuring, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

/** `count` rollouts in every state a list shows: running with traffic and losses, paused, completed, reverted, drafts. */
async function many(count: number, prefix: string) {
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    await createRollout(t, key, { plan: [{ live: 20 }, { live: 60 }], guards: { graceSeconds: 1, minSample: 10 } });
    if (i % 5 === 4) continue; // a draft
    await t.call('POST', `/v1/rollouts/${key}/start`);
    await sendTraffic(t, key, 'c1', 30, i % 3);
    await sendTraffic(t, key, 'baseline', 40, 0, 'old');
    if (i % 5 === 1) await t.call('POST', `/v1/rollouts/${key}/pause`, { body: { reason: 'hold' } });
    if (i % 5 === 2) await t.call('POST', `/v1/rollouts/${key}/complete`, { body: { reason: 'done' } });
    if (i % 5 === 3) await t.call('POST', `/v1/rollouts/${key}/revert`, { body: { reason: 'bad' } });
  }
}

const list = async () => (await t.call('GET', '/v1/rollouts?limit=200')).body.items as { key: string; health: { status: string; reason: string } }[];

describe('the status board', () => {
  it('says what each rollout’s own /health says, for rollouts in every state', async () => {
    await many(10, 'r');
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick(); // marks the due open messages lost: some rollouts degraded
    t.clock.advance(BOARD_TTL_MS + 1);
    const items = await list();
    expect(items).toHaveLength(10);
    expect(new Set(items.map((i) => i.health.status)).size).toBeGreaterThanOrEqual(3);
    for (const item of items) {
      const own = (await t.call('GET', `/v1/rollouts/${item.key}/health`)).body.health;
      expect(item.health, item.key).toEqual(own);
    }
  });

  it('judges a list in grouped reads: as many statements for 30 rollouts as for 5, none again within its age', async () => {
    await many(5, 'few');
    t.clock.advance(BOARD_TTL_MS + 1);
    const few = await statementsDuring(t, list);
    await many(25, 'more');
    t.clock.advance(BOARD_TTL_MS + 1);
    const all = await statementsDuring(t, list);
    expect(all).toBe(few);
    // Within its age, a scrape or a second list reads the rollouts and nothing more.
    const again = await statementsDuring(t, list);
    expect(again).toBeLessThan(few);
    const scrape = await statementsDuring(t, () => t.call('GET', '/metrics'));
    expect(scrape).toBeLessThanOrEqual(few);
  });

  it('takes the controller pass’s measurement: a scrape after a pass judges nothing itself', async () => {
    await many(5, 'few');
    t.clock.advance(BOARD_TTL_MS + 1);
    const cold = await statementsDuring(t, () => t.call('GET', '/metrics'));
    t.clock.advance(BOARD_TTL_MS + 1);
    await t.rollcall.services.controller.tick();
    const afterPass = await statementsDuring(t, () => t.call('GET', '/metrics'));
    expect(afterPass).toBeLessThan(cold);
    await many(25, 'more');
    t.clock.advance(BOARD_TTL_MS + 1);
    await t.rollcall.services.controller.tick();
    // Drafts and reverted rollouts need no measurement either: as many statements for 30 rollouts as for 5.
    expect(await statementsDuring(t, () => t.call('GET', '/metrics'))).toBe(afterPass);
  });

  it('judges afresh after new reports, a new version or its age, never later', async () => {
    await many(1, 'one');
    const status = async () => (await list())[0]!.health;
    expect(await status()).toMatchObject({ status: 'idle' });
    // Enough due messages to be judged: the report itself makes the next status fresh.
    await sendTraffic(t, 'one-0', 'c1', 30, 0);
    t.clock.advance(1_500);
    expect(await status()).toMatchObject({ status: 'healthy' });
    // With the clock standing still, a report that drops events breaches at once, and the list says so.
    await sendReport(t, { counts: [{ rollout: 'one-0', cohort: 'c1', path: 'new', second: Math.floor(t.clock.now() / 1000), received: 1, processed: 1, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 1 }] });
    expect(await status()).toMatchObject({ status: 'breached' });
    await t.call('POST', '/v1/rollouts/one-0/revert', { body: { cohort: 'c1', reason: 'by hand' } });
    expect(await status()).toMatchObject({ status: 'reverted' });
  });

  it('keeps a watched rollout’s status from the pass when reports come in: the next pass measures them, a scrape never does', async () => {
    await many(1, 'one');
    await sendTraffic(t, 'one-0', 'c1', 30, 0);
    t.clock.advance(1_500);
    await t.rollcall.services.controller.tick();
    const afterPass = await statementsDuring(t, () => t.call('GET', '/metrics'));
    expect((await list())[0]!.health).toMatchObject({ status: 'healthy' });
    // Reports under traffic: the board keeps the pass's entry (a scrape costs what it did), until the next pass.
    await sendReport(t, { counts: [{ rollout: 'one-0', cohort: 'c1', path: 'new', second: Math.floor(t.clock.now() / 1000), received: 1, processed: 1, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 1 }] });
    expect(await statementsDuring(t, () => t.call('GET', '/metrics'))).toBe(afterPass);
    expect((await list())[0]!.health).toMatchObject({ status: 'healthy' });
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/one-0')).body.state).not.toBe('running');
    expect((await list())[0]!.health.status).not.toBe('healthy');
  });
});
