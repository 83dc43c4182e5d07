import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '@rollcall/protocol';
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
    const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger, pruneReporters: t.rollcall.services.reporters.prune });
    expect((await retention.sweep()).reporters).toBe(1);
    expect((await rows('reporters')).map((r) => r.instance_id)).toEqual(['chatty']);
  });
});

describe('every table that grows has a bound', () => {
  // Each table's rows past its age, three full statements and one more, and rows still young: one sweep
  // removes every old row (its rule repeats full statements, so it keeps up with inflow) and keeps the young.
  const LIMIT = 10;
  const OLD = 3 * LIMIT + 1;
  const DAY = 24 * HOUR;
  type Seed = (at: number, i: number, rolloutId: number) => { sql: string; args: (string | number | null)[] };
  const tables: [string, string, number, Seed, keyof Awaited<ReturnType<ReturnType<typeof createRetention>['sweep']>>][] = [
    ['report_batches', 'batch ids', DAY, (at, i) => ({ sql: 'INSERT INTO report_batches (batch_id, instance_id, received_at) VALUES (?, ?, ?)', args: [`batch-${at}-${i}`, 'i', at] }), 'batches'],
    [
      'reporters',
      'reporters',
      7 * DAY,
      (at, i, rolloutId) => ({ sql: 'INSERT INTO reporters (rollout_id, instance_id, watermark, last_seen, last_event_at) VALUES (?, ?, ?, ?, ?)', args: [rolloutId, `instance-${at}-${i}`, at, at, at] }),
      'reporters',
    ],
    [
      'mismatch_samples',
      'mismatch samples',
      7 * DAY,
      (at, i, rolloutId) => ({
        sql: 'INSERT INTO mismatch_samples (rollout_id, cohort, minute, at, message_id, partner_id, authoritative, kind, diffs, instance_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        args: [rolloutId, 'shadow', Math.floor(at / 60_000) * 60, at, `m-${i}`, 'p', 'old', 'diff', '[]', 'i'],
      }),
      'samples',
    ],
    [
      'mismatch_field_sets',
      'field sets',
      7 * DAY,
      (at, i, rolloutId) => ({ sql: 'INSERT INTO mismatch_field_sets (rollout_id, cohort, path, bucket, fields, count) VALUES (?, ?, ?, ?, ?, ?)', args: [rolloutId, 'shadow', 'shadow', Math.floor(at / 1000), `$.f${i}`, 1] }),
      'samples',
    ],
    [
      'dropped_events',
      'drops by reason',
      30 * DAY,
      (at, i, rolloutId) => ({ sql: 'INSERT INTO dropped_events (rollout_id, cohort, path, reason, bucket, count) VALUES (?, ?, ?, ?, ?, ?)', args: [rolloutId, `c${i + 1}`, 'new', 'refused', Math.floor(at / 60_000) * 60, 1] }),
      'counts',
    ],
    [
      'callback_deliveries',
      'callback deliveries',
      30 * DAY,
      (at, i) => ({
        sql: "INSERT INTO callback_deliveries (id, message_id, callback_id, status, mode, attempts, created_at, finished_at) VALUES (?, ?, 'cb_1', 'succeeded', 'schedule', 1, ?, ?)",
        args: [`dlv_${at}_${i}`, `msg_${at}_${i}`, at, at],
      }),
      'callbacks',
    ],
    [
      'audit_log',
      'audit entries',
      400 * DAY,
      (at, i) => ({ sql: "INSERT INTO audit_log (at, actor, action, rollout_key, reason) VALUES (?, 'controller', 'rollout.advanced', 'a', ?)", args: [at, `entry ${i}`] }),
      'audit',
    ],
  ];

  for (const [table, what, ageMs, seed, removedAs] of tables) {
    it(`keeps ${what} (${table}) bounded: one sweep removes every row past its age, in repeated statements`, async () => {
      const rolloutId = await idOf('a');
      const count = async () => Number((await t.database.client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
      const old = t.clock.now();
      for (let i = 0; i < OLD; i++) await t.database.client.execute(seed(old, i, rolloutId));
      t.clock.advance(ageMs + 60_000);
      const young = t.clock.now();
      for (let i = 0; i < 3; i++) await t.database.client.execute(seed(young, i, rolloutId));
      const retention = createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy: { limit: LIMIT }, pruneCallbacks: t.rollcall.services.callbacks.prune, pruneReporters: t.rollcall.services.reporters.prune });
      const removed = await retention.sweep();
      expect(removed[removedAs]).toBeGreaterThanOrEqual(OLD);
      // The app's own rows from before the test are older than the age too, and go with them; the young stay.
      expect(await count()).toBe(3);
    });
  }
});
