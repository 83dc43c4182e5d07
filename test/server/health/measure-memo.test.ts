/**
 * A controller pass keeps the measurement of a rollout whose inputs did not
 * move (server/health/measure-memo.ts). Held here to a fresh measurement of
 * the same rollouts at the same moment, after every step of random sequences
 * on a real libsql file: reports of every kind (counts in the current second
 * or long past, failures, mismatches by field, drops, latency, learned
 * noise), messages opened and settled (late too), lost marking by the pass
 * itself, replay, a second reporter that lags and goes silent, retention's
 * sweeps, the rollout advanced, paused, resumed and a cohort reverted, and
 * the clock moving across due lines, windows and minutes; each write before a
 * pass or in the middle of one. The status the
 * pass then puts on the board is held to a fresh judgement too. fast-check
 * prints the seed and the shrunk case of any failure; FC_SEED and FC_PATH replay one.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MessageEvent } from '@rollcall/protocol';
import { settleMany } from '../../../server/health/measure-many.ts';
import { claimLost, markReplayed } from '../../../server/lost/store.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRetention } from '../../../server/reports/retention.ts';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

const CELLS = [
  ['c1', 'new'],
  ['baseline', 'old'],
  ['shadow', 'shadow'],
  ['c1', 'old'],
] as const;
const MESSAGES = 10;

const op = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('counts' as const),
      cell: fc.nat(CELLS.length - 1),
      back: fc.oneof({ weight: 4, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.nat(200) }),
      received: fc.nat(30),
      failed: fc.nat(3),
      mismatched: fc.nat(3),
      dropped: fc.nat(1),
      slow: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('open' as const), id: fc.nat(MESSAGES - 1), cell: fc.nat(CELLS.length - 1), backMs: fc.nat(4_000) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), id: fc.nat(MESSAGES - 1), cell: fc.nat(CELLS.length - 1), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), limit: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noise' as const), runs: fc.integer({ min: 1, max: 40 }), differing: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('lagging' as const), backMs: fc.nat(6_000) }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 1_500 }) }, { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 90_000 }) }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('act' as const), action: fc.constantFrom('advance', 'pause', 'resume', 'revert-c1') }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function apply(t: TestApp, rolloutId: number, o: Op, seq: { n: number }): Promise<void> {
  const now = t.clock.now();
  const message = (id: number, cell: number, status: MessageEvent['status'], receivedAt?: number): MessageEvent => ({
    rollout: 'r',
    messageId: `m${id + seq.n}`,
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
      const failed = Math.min(o.failed, o.received);
      const compared = path === 'shadow' ? o.received : 0;
      const mismatched = Math.min(o.mismatched, compared);
      const row = {
        rollout: 'r', cohort, path, second: Math.floor(now / 1000) - o.back, received: o.received, processed: o.received - failed, failed, compared, mismatched, skipped: 0, dropped: o.dropped,
        ...(o.dropped > 0 ? { droppedBy: { buffer_full: o.dropped } } : {}),
        ...(mismatched > 0 ? { differences: [{ paths: o.slow ? ['$.type'] : ['$.traceId'], count: mismatched }] } : {}),
        // Sparse [slot, count]: fast or slow timings, so the due time (settle.ts) and the latency guard move.
        ...(o.received > 0 ? { latency: [o.slow ? 60 : 20, o.received] } : {}),
      };
      return sendReport(t, { counts: [row as never] });
    }
    case 'open':
      return sendReport(t, { messages: [message(o.id, o.cell, 'open', now - o.backMs)] });
    case 'settle':
      return sendReport(t, { messages: [message(o.id, o.cell, o.ok ? 'processed' : 'failed', now - 1_500)] });
    case 'replay': {
      const claimed = await t.database.write((tx) => claimLost(tx, rolloutId, 'sdk-1', now, now + 10_000, o.limit));
      for (const m of claimed) await t.database.write((tx) => markReplayed(tx, rolloutId, m.messageId, 'sdk-1', now));
      return;
    }
    case 'noise':
      return sendReport(t, { noise: [{ rollout: 'r', paths: ['$.traceId', '$.type'], runs: o.runs, counts: [o.runs, Math.min(o.differing, o.runs)] }] });
    case 'lagging':
      // A second SDK instance whose reports lag: the due line waits for it, until it falls silent for long enough.
      return sendReport(t, { sdk: { name: 'test', version: '0', instanceId: 'instance-2' }, watermark: now - o.backMs });
    case 'wait':
      t.clock.advance(o.ms);
      if (o.ms > 10_000) seq.n += MESSAGES;
      return;
    case 'sweep': {
      const policy = { limit: 3, rounds: 2, settledMs: 20_000, ledgerMs: 60_000, countsMs: 240_000, compactAfterMs: 30_000 };
      await createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy }).sweep();
      return;
    }
    case 'act':
      if (o.action === 'revert-c1') await t.call('POST', '/v1/rollouts/r/cohorts/c1/revert', { body: { reason: 'by hand' } });
      else await t.call('POST', `/v1/rollouts/r/${o.action}`, { body: o.action === 'advance' ? { force: true } : {} });
  }
}

/**
 * One pass's measurement, kept where nothing moved, beside a fresh one of the same rollouts at the same moment.
 * `during` writes in the middle of the pass, after its timings are read and before its due lines are: what
 * another server's commit (a report, a reporter catching up) does to a pass in flight.
 */
async function pass(t: TestApp, tally: { kept: number; fresh: number }, during?: () => Promise<void>) {
  const { rollouts, health, lost } = t.rollcall.services;
  const aggregates = await rollouts.controlled();
  const now = t.clock.now();
  const settled = await health.settleMany(aggregates, now);
  // Timings kept where the inputs held are those a fresh read gives.
  const freshSettled = await settleMany(t.database.db, aggregates, now);
  expect(settled.latency).toEqual(freshSettled.latency);
  expect(settled.dueMs).toEqual(freshSettled.dueMs);
  await during?.();
  const horizons = await lost.markDueMany(
    aggregates.map((a) => a.rollout),
    now,
    settled.dueMs,
  );
  const watched = await health.measureWatched(aggregates, { now, horizons, settled });
  const fresh = await health.measureMany(aggregates, { now, horizons, settled: freshSettled });
  expect(watched.health).toEqual(fresh);
  // What the pass puts on the board (a status judged again only when what it is judged from moved) is a fresh judgement's.
  // A fresh judgement settles afresh: after a write mid-pass that moved the due lines or timings, it stands on other
  // ground than the pass did, and the pass that follows (nothing written) is held to it instead.
  await health.record(aggregates, watched.health, now);
  const settledAfter = during === undefined ? freshSettled : await settleMany(t.database.db, aggregates, now);
  if (during === undefined || (isDeepStrictEqual(settledAfter.dueMs, settled.dueMs) && isDeepStrictEqual(settledAfter.latency, settled.latency))) {
    const judged = await health.judgeMany(aggregates, now);
    for (const aggregate of aggregates) expect((await health.board(aggregate)).health).toEqual(judged.get(aggregate.rollout.id));
  }
  tally.kept += aggregates.length - watched.measured;
  tally.fresh += watched.measured;
}

describe('a pass keeps what did not move', () => {
  it('and what it keeps is what a fresh measurement reads, whatever was written and however the clock moved', async () => {
    const tally = { kept: 0, fresh: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, fc.boolean()), { minLength: 10, maxLength: 60, size: 'max' }), async (ops) => {
        // Off the minute and the second: windows and buckets have ragged edges.
        const t = await createTestApp({ start: Date.UTC(2026, 10, 1, 12, 0, 17) + 345 });
        try {
          const plan = [{ live: 20, shadow: 60 }, { live: 50 }, { live: 100 }];
          const created = await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan, guards: { graceSeconds: 3, windowSeconds: 60, minSample: 5, reporterTimeoutSeconds: 10 }, onBreach: 'pause' } });
          if (created.status !== 201) throw new Error(created.text);
          await t.call('POST', '/v1/rollouts/r/start');
          const rolloutId = Number((await t.database.client.execute("SELECT id FROM rollouts WHERE key = 'r'")).rows[0]!.id);
          const seq = { n: 0 };
          await pass(t, tally);
          for (const [o, midPass] of ops) {
            // A commit lands mid-pass; the clock does not jump inside one (the board's entry would outlive its pass).
            if (midPass && o.kind !== 'wait') await pass(t, tally, () => apply(t, rolloutId, o, seq));
            else {
              await apply(t, rolloutId, o, seq);
              await pass(t, tally);
            }
            // A second pass with nothing written: kept, unless the clock moved something.
            await pass(t, tally);
          }
        } finally {
          await t.close();
        }
      }),
      { numRuns: 25, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH } : {}) },
    );
    // Both ways were taken, many times over.
    expect(tally.kept).toBeGreaterThan(100);
    expect(tally.fresh).toBeGreaterThan(100);
  }, 300_000);

  it('measures again when lost messages past the due line come back inside it, with no row written', async () => {
    const t = await createTestApp();
    try {
      await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan: [{ live: 20 }, { live: 100 }], guards: { graceSeconds: 3, reporterTimeoutSeconds: 30 } } });
      await t.call('POST', '/v1/rollouts/r/start');
      const tally = { kept: 0, fresh: 0 };
      const receivedAt = t.clock.now();
      await sendReport(t, { messages: [{ rollout: 'r', messageId: 'm1', partnerId: 'p1', cohort: 'c1', path: 'new', status: 'open', receivedAt, at: receivedAt }] });
      t.clock.advance(4_000);
      await pass(t, tally); // m1 is due and marked lost
      // A second instance joins, its reports behind m1's receipt: m1 is past the due line again. What it counts is long due.
      const second = Math.floor(receivedAt / 1000) - 20;
      const counted = { rollout: 'r', cohort: 'baseline', path: 'old' as const, second, received: 1, processed: 1, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 };
      await sendReport(t, { sdk: { name: 'test', version: '0', instanceId: 'instance-2' }, watermark: receivedAt - 5_000, counts: [counted] });
      await pass(t, tally);
      // It catches up: the due line moves past m1 again, and no row but the reporter's was written.
      await sendReport(t, { sdk: { name: 'test', version: '0', instanceId: 'instance-2' }, watermark: t.clock.now() });
      await pass(t, tally);
      const c1 = (await t.rollcall.services.health.health('r')).cohorts.find((c) => c.name === 'c1');
      expect(c1?.lost).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('measures again when latency rows in the window change without a count', async () => {
    const t = await createTestApp();
    try {
      await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan: [{ live: 20 }, { live: 100 }] } });
      await t.call('POST', '/v1/rollouts/r/start');
      const second = Math.floor(t.clock.now() / 1000);
      const row = (cohort: string, path: string, slot: number) => ({ rollout: 'r', cohort, path, second, received: 50, processed: 50, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, latency: [slot, 50] });
      await sendReport(t, { counts: [row('baseline', 'old', 20), row('c1', 'new', 60)] as never });
      const tally = { kept: 0, fresh: 0 };
      await pass(t, tally);
      // What a retention rule for timings would do: their rows go, and no count, ledger row or noise moves.
      await t.database.client.execute("DELETE FROM latency_counts WHERE cohort = 'c1'");
      await pass(t, tally);
    } finally {
      await t.close();
    }
  });

  it('judges the status again when a reporter is declared gone, though no figure moved', async () => {
    const t = await createTestApp();
    try {
      await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan: [{ live: 20 }, { live: 100 }], guards: { graceSeconds: 3, reporterTimeoutSeconds: 10 } } });
      await t.call('POST', '/v1/rollouts/r/start');
      t.clock.advance(40_000);
      const second = Math.floor(t.clock.now() / 1000) - 30;
      const counted = { rollout: 'r', cohort: 'c1', path: 'new' as const, second, received: 5, processed: 5, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 };
      await sendReport(t, { sdk: { name: 'test', version: '0', instanceId: 'instance-2' }, watermark: t.clock.now(), counts: [counted] });
      const tally = { kept: 0, fresh: 0 };
      await pass(t, tally);
      t.clock.advance(15_000);
      // The pass declares instance-2 gone (its reports stopped); every count was due already, so the figures are kept.
      await pass(t, tally);
      expect(tally.kept).toBe(1);
      const aggregate = await t.rollcall.services.rollouts.get('r');
      expect((await t.rollcall.services.health.board(aggregate)).health.status).toBe('degraded');
    } finally {
      await t.close();
    }
  });
});
