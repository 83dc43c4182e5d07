/**
 * The rollups are the raw rows summed, whatever wrote them: random sequences
 * of reports (counts, messages opened, processed, failed, settled late),
 * lost marking, replay, the clock moving and retention's sweeps (roll-up of
 * seconds into minutes, deletes) on a real libsql file, after which
 * `count_minutes`, `ledger_tallies` and `ledger_totals` must equal a direct
 * SUM/COUNT over `cohort_counts` and `messages`, and a window read through
 * them (rollups.ts) must equal the same window summed over the raw rows.
 * fast-check prints the seed and the shrunk case of any failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTERS, type MessageEvent } from '@rollcall/protocol';
import { ledgerCountsMany, windowSumsMany } from '../../../server/health/rollups.ts';
import { claimLost, markLost, markReplayed } from '../../../server/lost/store.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRetention } from '../../../server/reports/retention.ts';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

// c1 on both paths: a band's partners run the old path too (verified, or after a revert), and c1 is judged on new alone.
const CELLS = [
  ['c1', 'new'],
  ['baseline', 'old'],
  ['c1', 'old'],
] as const;
const MESSAGES = 12;

const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('counts' as const), cell: fc.nat(CELLS.length - 1), back: fc.nat(200), received: fc.nat(9), failed: fc.nat(2) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('open' as const), id: fc.nat(MESSAGES - 1), cell: fc.nat(CELLS.length - 1), backMs: fc.nat(4_000) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('settle' as const), id: fc.nat(MESSAGES - 1), cell: fc.nat(CELLS.length - 1), ok: fc.boolean(), knownReceipt: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('lost' as const), limit: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), limit: fc.integer({ min: 1, max: 4 }), ack: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 3_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 200_000 }) }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), limit: fc.integer({ min: 1, max: 6 }) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

// A window's bounds are sometimes a bad message's own receipt (`snap`: the ledger's bounds are inclusive).
const windows = fc.array(fc.record({ cell: fc.nat(CELLS.length - 1), sinceBack: fc.nat(400_000), length: fc.integer({ min: -2_000, max: 400_000 }), snap: fc.option(fc.tuple(fc.nat(), fc.nat())) }), { minLength: 1, maxLength: 8 });

async function apply(t: TestApp, rolloutId: number, o: Op, messageSeq: { n: number }): Promise<void> {
  const now = t.clock.now();
  const message = (id: number, cell: number, status: MessageEvent['status'], receivedAt: number | undefined): MessageEvent => ({
    rollout: 'r',
    messageId: `m${id}`,
    partnerId: `p${id}`,
    cohort: CELLS[cell]![0],
    path: CELLS[cell]![1],
    status,
    ...(receivedAt === undefined ? {} : { receivedAt }),
    at: now,
  });
  switch (o.kind) {
    case 'counts': {
      const [cohort, path] = CELLS[o.cell]!;
      const counts = { received: o.received, processed: o.received - Math.min(o.failed, o.received), failed: Math.min(o.failed, o.received), compared: 0, mismatched: 0, skipped: 0, dropped: 0 };
      return sendReport(t, { counts: [{ rollout: 'r', cohort, path, second: Math.floor(now / 1000) - o.back, ...counts }] });
    }
    case 'open':
      return sendReport(t, { messages: [message(o.id + messageSeq.n, o.cell, 'open', now - o.backMs)] });
    case 'settle':
      return sendReport(t, { messages: [message(o.id + messageSeq.n, o.cell, o.ok ? 'processed' : 'failed', o.knownReceipt ? now - 1_500 : undefined)] });
    case 'lost':
      await t.database.write((tx) => markLost(tx, rolloutId, now - 1_000, o.limit));
      return;
    case 'replay': {
      const claimed = await t.database.write((tx) => claimLost(tx, rolloutId, 'sdk-1', now, now + 10_000, o.limit));
      for (const m of claimed.slice(0, o.ack)) await t.database.write((tx) => markReplayed(tx, rolloutId, m.messageId, 'sdk-1', now));
      return;
    }
    case 'wait':
      t.clock.advance(o.ms);
      // New ids after a long wait: the ledger keeps rows of many ages at once.
      if (o.ms > 10_000) messageSeq.n += MESSAGES / 2;
      return;
    case 'sweep': {
      const policy = { limit: o.limit, rounds: 2, settledMs: 60_000, ledgerMs: 60_000, countsMs: 240_000, compactAfterMs: 30_000 };
      await createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy }).sweep();
    }
  }
}

const all = async (t: TestApp, sql: string, args: (number | string)[] = []) => (await t.database.client.execute({ sql, args })).rows.map((r) => ({ ...r }));
const COUNTER_SUMS = COUNTERS.map((c) => `sum(${c}) AS ${c}`).join(', ');
const NONZERO = COUNTERS.map((c) => `${c} != 0`).join(' OR ');

async function expectRollupsEqualRaw(t: TestApp): Promise<void> {
  const minutes = await all(t, `SELECT rollout_id, cohort, path, bucket, ${COUNTERS.join(', ')} FROM count_minutes WHERE ${NONZERO} ORDER BY 1, 2, 3, 4`);
  const summed = await all(t, `SELECT * FROM (SELECT rollout_id, cohort, path, bucket - bucket % 60 AS bucket, ${COUNTER_SUMS} FROM cohort_counts GROUP BY 1, 2, 3, 4) WHERE ${NONZERO} ORDER BY 1, 2, 3, 4`);
  expect(minutes).toEqual(summed);
  const tallies = await all(t, 'SELECT rollout_id, cohort, path, span, bucket, status, n FROM ledger_tallies ORDER BY 1, 2, 3, 4, 5, 6');
  const counted = await all(
    t,
    `SELECT rollout_id, cohort, path, s.span AS span, CAST(received_at / 1000 AS INTEGER) - CAST(received_at / 1000 AS INTEGER) % s.span AS bucket, status, count(*) AS n
     FROM messages, (SELECT 1 AS span UNION ALL SELECT 60) AS s WHERE status IN ('lost', 'late', 'replayed') AND received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`,
  );
  expect(tallies).toEqual(counted);
  const totals = await all(t, 'SELECT rollout_id, cohort, status, n FROM ledger_totals ORDER BY 1, 2, 3');
  expect(totals).toEqual(await all(t, "SELECT rollout_id, cohort, status, count(*) AS n FROM messages WHERE status IN ('lost', 'late', 'replayed') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"));
}

async function expectWindowsEqualRaw(t: TestApp, rolloutId: number, picks: { cell: number; sinceBack: number; length: number; snap: [number, number] | null }[]): Promise<void> {
  const now = t.clock.now();
  const receipts = (await all(t, "SELECT received_at FROM messages WHERE status IN ('lost', 'late', 'replayed') AND received_at IS NOT NULL")).map((r) => Number(r.received_at));
  const cells = picks.map((p) => {
    const [since, dueBefore] = p.snap === null || receipts.length === 0 ? [now - p.sinceBack, now - p.sinceBack + p.length] : [receipts[p.snap[0] % receipts.length]!, receipts[p.snap[1] % receipts.length]!];
    return { rolloutId, cohort: CELLS[p.cell]![0], path: CELLS[p.cell]![1], since, dueBefore };
  });
  const [sums, ledger] = await Promise.all([windowSumsMany(t.database.db, cells), ledgerCountsMany(t.database.db, cells)]);
  for (const [i, c] of cells.entries()) {
    const [raw] = await all(t, `SELECT coalesce(sum(CASE WHEN bucket <= ? THEN received END), 0) AS due, ${COUNTERS.map((k) => `coalesce(sum(${k}), 0) AS ${k}`).join(', ')} FROM cohort_counts WHERE rollout_id = ? AND cohort = ? AND path = ? AND bucket >= ?`, [Math.floor(c.dueBefore / 1000), rolloutId, c.cohort, c.path, Math.floor(c.since / 1000)]);
    expect({ ...{ due: 0, ...Object.fromEntries(COUNTERS.map((k) => [k, 0])) }, ...sums[i] }, `sums of ${JSON.stringify(c)}`).toEqual(Object.fromEntries(Object.entries(raw!).map(([k, v]) => [k, Number(v)])));
    const rows = await all(t, "SELECT status, count(*) AS n FROM messages WHERE rollout_id = ? AND cohort = ? AND path = ? AND status IN ('lost', 'late', 'replayed') AND received_at >= ? AND received_at <= ? GROUP BY status", [rolloutId, c.cohort, c.path, c.since, c.dueBefore]);
    expect(ledger[i], `ledger of ${JSON.stringify(c)}`).toEqual(Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])));
  }
}

describe('rollups kept by triggers', () => {
  it('equal the raw counts and ledger, and read windows as the raw rows do, whatever wrote them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 80, size: 'max' }), windows, async (ops, picks) => {
        // A clock off the minute and second, so that windows and buckets have ragged edges.
        const t = await createTestApp({ start: Date.UTC(2026, 10, 1, 12, 0, 17) + 345 });
        try {
          const created = await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan: [{ live: 50 }], guards: { graceSeconds: 2 } } });
          await t.call('POST', '/v1/rollouts/r/start');
          if (created.status !== 201) throw new Error(created.text);
          const rolloutId = Number((await all(t, "SELECT id FROM rollouts WHERE key = 'r'"))[0]!.id);
          const messageSeq = { n: 0 };
          for (const [k, o] of ops.entries()) {
            await apply(t, rolloutId, o, messageSeq);
            if (k % 8 === 7) await expectRollupsEqualRaw(t);
          }
          await expectRollupsEqualRaw(t);
          await expectWindowsEqualRaw(t, rolloutId, picks);
        } finally {
          await t.close();
        }
      }),
      { numRuns: 30 },
    );
  }, 300_000);
});
