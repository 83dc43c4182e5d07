import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '../../../sdk/wire.ts';
import { createRetention } from '../../../server/reports/retention.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRollout, createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  for (const key of ['a', 'b']) {
    await createRollout(t, key, { plan: [{ live: 50 }], guards: { graceSeconds: 5 } });
    await t.call('POST', `/v1/rollouts/${key}/start`);
  }
});
afterEach(async () => {
  await t.close();
});

const HOUR = 3_600_000;
const report = (parts: Partial<ReportBatch>) => sendReport(t, parts);

const rows = async (table: string) => (await t.dump())[table] as any[];
const idOf = async (key: string) => (await rows('rollouts')).find((r) => r.key === key).id;

describe('retention', () => {
  it('deletes settled ledger rows after an hour, per rollout, at most `limit` per statement and `rounds` statements a sweep', async () => {
    const now = t.clock.now();
    for (const rollout of ['a', 'b']) {
      await report({
        messages: Array.from({ length: 5 }, (_, i) => ({ rollout, messageId: `${rollout}${i}`, partnerId: 'p', cohort: 'c1', path: 'new' as const, status: 'processed' as const, receivedAt: now, at: now })),
      });
    }
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy: { limit: 3, rounds: 1 } });
    t.clock.advance(HOUR - 1_000);
    expect((await retention.sweep()).settled).toBe(0);
    t.clock.advance(2_000);
    expect((await retention.sweep()).settled).toBe(6); // 3 of each rollout
    const left = await rows('messages');
    const [a, b] = [await idOf('a'), await idOf('b')];
    expect(left.filter((m) => m.rollout_id === a)).toHaveLength(2);
    expect(left.filter((m) => m.rollout_id === b)).toHaveLength(2);
    expect((await retention.sweep()).settled).toBe(4);
    expect(await rows('messages')).toHaveLength(0);
  });

  it('repeats a full statement within one sweep until the backlog is gone, so deletion keeps up with ingestion', async () => {
    const now = t.clock.now();
    await report({
      messages: Array.from({ length: 10 }, (_, i) => ({ rollout: 'a', messageId: `m${i}`, partnerId: 'p', cohort: 'c1', path: 'new' as const, status: 'processed' as const, receivedAt: now, at: now })),
    });
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy: { limit: 3, settledMs: 60_000 } });
    t.clock.advance(61_000);
    expect((await retention.sweep()).settled).toBe(10); // four statements: 3 + 3 + 3 + 1
    expect(await rows('messages')).toHaveLength(0);
  });

  it('keeps lost rows for a week, for replay', async () => {
    const now = t.clock.now();
    await report({ messages: [{ rollout: 'a', messageId: 'm', partnerId: 'p', cohort: 'c1', path: 'new', status: 'open', receivedAt: now, at: now }] });
    t.clock.advance(10_000);
    await t.rollcall.services.controller.tick();
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger });
    t.clock.advance(6 * 24 * HOUR);
    await retention.sweep();
    expect((await rows('messages'))[0].status).toBe('lost');
    t.clock.advance(2 * 24 * HOUR);
    expect((await retention.sweep()).ledger).toBe(1);
  });

  it('drops rows still open after a week in a rollout that is no longer guarded', async () => {
    const now = t.clock.now();
    await report({ messages: [{ rollout: 'a', messageId: 'left-open', partnerId: 'p', cohort: 'c1', path: 'new', status: 'open', receivedAt: now, at: now }] });
    // Not watched after completion (watchSeconds 0), so nothing marks the row lost: it stays open.
    await t.call('PATCH', '/v1/rollouts/a', { body: { guards: { watchSeconds: 0 } } });
    await t.call('POST', '/v1/rollouts/a/complete', { body: { reason: 'done' } });
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger });
    t.clock.advance(6 * 24 * HOUR);
    await t.rollcall.services.controller.tick();
    expect((await retention.sweep()).ledger).toBe(0);
    expect((await rows('messages'))[0]).toMatchObject({ message_id: 'left-open', status: 'open' });
    t.clock.advance(2 * 24 * HOUR);
    expect((await retention.sweep()).ledger).toBe(1);
    expect(await rows('messages')).toHaveLength(0);
  });

  it('rolls old per-second counts up into minutes without changing the sums', async () => {
    const start = Math.floor(t.clock.now() / 60_000) * 60_000 + 60_000;
    t.clock.set(start);
    for (let s = 0; s < 120; s += 7) {
      t.clock.set(start + s * 1000);
      await report({ counts: [{ rollout: 'a', cohort: 'c1', path: 'new', second: Math.floor(t.clock.now() / 1000), received: s + 1, processed: s, failed: 1, compared: 0, mismatched: 0, skipped: 0, dropped: 0 }] });
    }
    const before = await rows('cohort_counts');
    const total = (list: any[]) => list.reduce((sum, r) => sum + r.received, 0);
    t.clock.set(start + 2 * HOUR);
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger });
    expect((await retention.sweep()).compacted).toBeGreaterThan(0);
    const after = await rows('cohort_counts');
    expect(after.every((r) => r.bucket % 60 === 0)).toBe(true);
    expect(after).toHaveLength(2);
    expect(total(after)).toBe(total(before));
    expect(after.reduce((sum, r) => sum + r.failed, 0)).toBe(before.length);
  });

  it('forgets report batch ids after a day', async () => {
    await report({});
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger });
    t.clock.advance(25 * HOUR);
    expect((await retention.sweep()).batches).toBe(1);
    expect(await rows('report_batches')).toHaveLength(0);
  });

  it('forgets a reporter silent for a week, and keeps one that still reports', async () => {
    await createRollout(t, 'w');
    await report({ batchId: 'quiet-batch-1', sdk: { name: 't', version: '1', instanceId: 'quiet' }, watermark: t.clock.now(), counts: [], messages: [{ rollout: 'w', messageId: 'q', partnerId: 'p', cohort: 'baseline', path: 'old', status: 'failed', at: t.clock.now() }] });
    t.clock.advance(6 * 24 * HOUR);
    await report({ batchId: 'chatty-batch-1', sdk: { name: 't', version: '1', instanceId: 'chatty' }, watermark: t.clock.now(), counts: [], messages: [{ rollout: 'w', messageId: 'c', partnerId: 'p', cohort: 'baseline', path: 'old', status: 'failed', at: t.clock.now() }] });
    t.clock.advance(2 * 24 * HOUR);
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger });
    expect((await retention.sweep()).reporters).toBe(1);
    expect((await rows('reporters')).map((r) => r.instance_id)).toEqual(['chatty']);
  });
});
