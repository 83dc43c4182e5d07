import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '../../../sdk/wire.ts';
import { cohortSums, hasDueOpen, ledgerCounts, markLost } from '../../../server/accounting/store.ts';
import { createApp } from '../../../server/app.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRollout, createTestApp, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const report = (parts: Partial<ReportBatch>) => sendReport(t, parts);

const traffic = (rollout: string, cohort: string, total: number, open: number, path: 'new' | 'old' | 'shadow' = 'new') => sendTraffic(t, rollout, cohort, total, open, path);

const get = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}`)).body;

describe('controller decisions', () => {
  it('is a compare-and-set: two controllers that measured the same breach revert once', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 100, 10);
    t.clock.advance(6_000);
    const other = createApp({ database: t.database, clock: t.clock, logger: silentLogger });
    await Promise.all([t.rollcall.services.controller.tick(), other.services.controller.tick()]);
    const actions = (await t.call('GET', '/v1/audit?rollout=r')).body.items.map((e: any) => e.action);
    expect(actions.filter((a: string) => a === 'guard.breached')).toHaveLength(1);
    expect(actions.filter((a: string) => a === 'cohort.reverted')).toHaveLength(1);
    expect((await get('r')).version).toBe(3);
  });

  it('marks nothing lost before the grace, and everything open after it', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 30, minSample: 1000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 50, 7);
    t.clock.advance(29_000);
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(0);
    t.clock.advance(1_000);
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(7);
  });

  it('auto-advances only once the step has baked and its cohort has enough due messages', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10, bakeSeconds: 60, minMessages: 200 }, { live: 50 }], autoAdvance: true, guards: { graceSeconds: 5, minSample: 100 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 150, 0);
    t.clock.advance(61_000);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0); // baked, but 150 of 200 due messages
    await traffic('r', 'c1', 100, 0);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0); // 250 received, only 150 due yet
    t.clock.advance(6_000);
    await t.rollcall.services.controller.tick();
    const advanced = await get('r');
    expect(advanced).toMatchObject({ step: 1, cohorts: [{ name: 'c1' }, { name: 'c2', from: 1000, to: 5000 }] });
    const entry = (await t.call('GET', '/v1/audit?rollout=r')).body.items[0];
    expect(entry).toMatchObject({ action: 'rollout.advanced', actor: 'controller' });
    expect(entry.reason).toMatch(/auto-advance/);
  });

  it('never auto-advances a paused rollout or one with a breach', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10 }, { live: 50 }], autoAdvance: true, guards: { graceSeconds: 1, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await t.call('POST', '/v1/rollouts/r/pause');
    await traffic('r', 'c1', 100, 0);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0);
  });

  it('treats dropped events as divergence', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }] });
    await t.call('POST', '/v1/rollouts/r/start');
    const now = t.clock.now();
    await report({ counts: [{ rollout: 'r', cohort: 'c1', path: 'new', second: Math.floor(now / 1000), received: 5, processed: 5, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 1 }] });
    await t.rollcall.services.controller.tick();
    const breach = (await t.call('GET', '/v1/audit?rollout=r')).body.items.find((e: any) => e.action === 'guard.breached');
    expect(breach.after.guard).toBe('dropped');
  });
});

describe('health and lost messages over the API', () => {
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

  it('lists lost messages by id, oldest first, a page at a time', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 100_000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 5, 5);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    const first = await t.call('GET', '/v1/rollouts/r/lost?status=lost&limit=3');
    expect(first.body.items).toHaveLength(3);
    expect(first.body.items[0]).toMatchObject({ partnerId: 'p0', cohort: 'c1', path: 'new', status: 'lost', replayAttempts: 0 });
    const second = await t.call('GET', `/v1/rollouts/r/lost?status=lost&limit=3&after=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.items, ...second.body.items].map((m: any) => m.messageId);
    expect(new Set(all).size).toBe(5);
    expect((await t.call('GET', '/v1/rollouts/r/lost?after=garbage')).status).toBe(400);
    expect((await t.call('GET', '/v1/rollouts/r/lost?status=open')).status).toBe(400);
  });

  it('leases lost messages so two instances never hold one at once, and takes back an expired lease', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 100_000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 4, 4);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    const claim = (instanceId: string) => t.call('POST', '/v1/sdk/replay/claim', { key: t.keys.sdk, body: { instanceId, rollouts: ['r'], limit: 3, leaseSeconds: 30 } });
    const a = (await claim('a')).body.items;
    const b = (await claim('b')).body.items;
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(1);
    expect(new Set([...a, ...b].map((m: any) => m.messageId)).size).toBe(4);
    const ack = await t.call('POST', '/v1/sdk/replay/ack', { key: t.keys.sdk, body: { instanceId: 'b', items: [{ rollout: 'r', messageId: a[0].messageId, ok: true }, { rollout: 'r', messageId: b[0].messageId, ok: true }] } });
    expect(ack.body).toEqual({ replayed: 1, released: 0, ignored: 1 }); // b cannot settle a's lease
    t.clock.advance(31_000);
    const again = (await claim('b')).body.items;
    expect(again.map((m: any) => m.messageId).sort()).toEqual(a.map((m: any) => m.messageId).sort());
    expect(again[0].attempt).toBe(2);
  });
});

describe('queries stay on indexes', () => {
  it('never scans a whole table for the controller’s reads and writes', async () => {
    const explain = async (query: string) => (await t.database.client.execute(`EXPLAIN QUERY PLAN ${query}`)).rows.map((r) => String(r.detail)).join(' | ');
    const plans = [
      await explain("SELECT rowid FROM messages WHERE rollout_id = 1 AND status = 'open' AND received_at <= 5 ORDER BY received_at LIMIT 10"),
      await explain("SELECT count(*) FROM messages WHERE rollout_id = 1 AND status IN ('lost', 'late', 'replayed') AND received_at >= 0 AND cohort = 'c1' GROUP BY status"),
      await explain("SELECT path, sum(received) FROM cohort_counts WHERE rollout_id = 1 AND cohort = 'c1' AND path IN ('old', 'new', 'shadow') AND bucket >= 0 GROUP BY path"),
      await explain("SELECT 1 FROM messages WHERE rollout_id = 1 AND status = 'open' AND received_at <= 5 LIMIT 1"),
    ];
    for (const plan of plans) {
      expect(plan).toMatch(/USING (COVERING )?INDEX|USING PRIMARY KEY/);
      expect(plan).not.toMatch(/SCAN (messages|cohort_counts)(?! USING)/);
    }
    // The store functions run those statements.
    await t.database.write((tx) => markLost(tx, 1, 5, 10));
    expect(await hasDueOpen(t.database.db, 1, 5)).toBe(false);
    expect((await cohortSums(t.database.db, 1, 'c1', 0, 5)).size).toBe(0);
    expect(await ledgerCounts(t.database.db, 1, 'c1', 0)).toEqual({});
  });
});
