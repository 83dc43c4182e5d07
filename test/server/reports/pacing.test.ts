import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../server/db/database.ts';
import { createPacer } from '../../../server/reports/pacing.ts';
import { createRetention, settledShare } from '../../../server/reports/retention.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRollout, createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

describe('a pacer', () => {
  it('pauses after each full slice so that slices hold the lock at most their share of the time', async () => {
    const pauses: number[] = [];
    const pacer = createPacer({ limit: 10, rounds: 100, stopped: () => false, pause: async (ms) => void pauses.push(ms) });
    const held = [40, 20, 8];
    const removed = await pacer.run(async () => ({ removed: held.length > 1 ? 10 : 3, heldMs: held.shift()! }), 0.25);
    expect(removed).toBe(23);
    // 3 ms waited for every 1 ms held: a quarter of the time; none after the last (short) slice.
    expect(pauses).toEqual([120, 60]);
    expect(pacer.cost).toEqual({ statements: 3, longestMs: 40 });
  });

  it('runs slices back to back at a share of 1, stops at `rounds`, and stops when told', async () => {
    const pauses: number[] = [];
    const full = async () => ({ removed: 10, heldMs: 5 });
    const pacer = createPacer({ limit: 10, rounds: 4, stopped: () => false, pause: async (ms) => void pauses.push(ms) });
    expect(await pacer.run(full, 1)).toBe(40);
    expect(pauses).toEqual([]);
    let stop = false;
    const stopping = createPacer({ limit: 10, rounds: 100, stopped: () => stop, pause: async () => void (stop = true) });
    expect(await stopping.run(full, 0.5)).toBe(10);
  });

  it('gives settled ids more of the lock the further they fall behind', () => {
    expect(settledShare(0, 0.25)).toBe(0.25);
    expect(settledShare(10_000, 0.25)).toBe(0.25);
    expect(settledShare(10_001, 0.25)).toBe(0.5);
    expect(settledShare(60_001, 0.25)).toBe(1);
    expect(settledShare(20_000, 0.8)).toBe(0.8);
  });
});

describe('settled ids deleted as they come due', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await createRollout(t, 'a', { plan: [{ live: 50 }] });
    await t.call('POST', '/v1/rollouts/a/start');
  });
  afterEach(async () => {
    await t.close();
  });

  const settle = (ids: string[], at: number) =>
    sendReport(t, { messages: ids.map((messageId) => ({ rollout: 'a', messageId, partnerId: 'p', cohort: 'c1', path: 'new' as const, status: 'processed' as const, receivedAt: at, at })) });
  const ledger = async () => ((await t.dump()).messages as { message_id: string }[]).map((m) => m.message_id).sort();

  it('deletes only ids settled longer ago than settledMs, in slices on the connection ingest writes with', async () => {
    await settle(['old1', 'old2', 'old3', 'old4', 'old5'], t.clock.now());
    t.clock.advance(30_000);
    await settle(['young'], t.clock.now());
    t.clock.advance(31_000);
    let plainSql = 0;
    const database: Database = { ...t.database, writeSql: (fn) => (plainSql++, t.database.writeSql(fn)) };
    const retention = createRetention({ database, clock: t.clock, logger: silentLogger, policy: { settledMs: 60_000, limit: 2 }, pause: async () => {} });
    expect(await retention.settled()).toBe(5);
    expect(await ledger()).toEqual(['young']);
    expect(plainSql).toBe(3); // 2 + 2 + 1
  });

  it('lets a report commit between two slices of a backlog (housekeeping never holds ingest up for more than a slice)', async () => {
    await settle(Array.from({ length: 10 }, (_, i) => `old${i}`), t.clock.now());
    t.clock.advance(61_000);
    const order: string[] = [];
    const retention = createRetention({
      database: t.database,
      clock: t.clock,
      logger: silentLogger,
      policy: { settledMs: 60_000, limit: 2 },
      // The first pause waits for a report to be answered: were the lock held across slices, it never would be.
      pause: async () => {
        if (order.length > 0) return;
        order.push('pause');
        await sendReport(t, { messages: [{ rollout: 'a', messageId: 'fresh', partnerId: 'p', cohort: 'c1', path: 'new', status: 'open', receivedAt: t.clock.now(), at: t.clock.now() }] });
        order.push('report committed');
      },
      onSweep: (sweep) => order.push(`deleted ${sweep.removed.settled}`),
    });
    expect(await retention.settled()).toBe(10);
    expect(order).toEqual(['pause', 'report committed', 'deleted 10']);
    expect(await ledger()).toEqual(['fresh']);
  });
});
