/**
 * The controller's kept window sums (server/health/window-sums.ts) are the
 * rollups' sums, whatever wrote the counts and however windows move: random
 * sequences of upserts and deletes of per-second counts, retention's sweeps
 * (seconds rolled up into minutes, old rows deleted) and passes by two
 * servers that share the rows, each pass asking for some cells with window
 * starts and due lines that move both ways; after every pass its sums must
 * equal `windowSumsMany` over the same cells. fast-check prints the seed and
 * the shrunk case of any failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTERS } from '@rollcall/protocol';
import { windowSumsMany, zeroSums, type WindowCell } from '../../../server/health/rollups.ts';
import { ADVANCE_EVERY, createWindowSums } from '../../../server/health/window-sums.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRetention } from '../../../server/reports/retention.ts';
import { createTestApp, type TestApp } from '../../helpers/test-app.ts';

const CELLS = [
  ['r', 'c1', 'new'],
  ['r', 'baseline', 'old'],
  ['s', 'c1', 'new'],
  ['s', 'shadow', 'shadow'],
] as const;
/** Window starts, as seconds from the base: most passes share a few, so rows are kept and then moved. */
const STARTS = [-30, -7, 0, 11];

const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('count' as const), cell: fc.nat(CELLS.length - 1), at: fc.oneof(fc.integer({ min: -45, max: 45 }), fc.integer({ min: -8, max: 14 })), received: fc.nat(9), failed: fc.nat(3), mismatched: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), limit: fc.integer({ min: 1, max: 8 }), compactAfter: fc.integer({ min: 0, max: 90 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('pass' as const),
      server: fc.nat(1),
      cells: fc.uniqueArray(fc.record({ cell: fc.nat(CELLS.length - 1), start: fc.nat(STARTS.length - 1), due: fc.integer({ min: -3, max: 45 }), ms: fc.nat(999) }), { selector: (c) => c.cell, minLength: 0, maxLength: CELLS.length }),
      alsoWatched: fc.boolean(),
    }),
  },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const run = (t: TestApp, sql: string, args: (number | string)[] = []) => t.database.client.execute({ sql, args });

async function apply(t: TestApp, ids: Record<string, number>, base: number, o: Exclude<Op, { kind: 'pass' }>): Promise<void> {
  switch (o.kind) {
    case 'count': {
      const [key, cohort, path] = CELLS[o.cell]!;
      const failed = Math.min(o.failed, o.received);
      await run(
        t,
        `INSERT INTO cohort_counts (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)
         ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched`,
        [ids[key]!, cohort, path, base + o.at, o.received, o.received - failed, failed, o.mismatched, o.mismatched],
      );
      return;
    }
    case 'delete': {
      const rows = (await run(t, 'SELECT rowid AS id FROM cohort_counts ORDER BY rowid')).rows;
      if (rows.length > 0) await run(t, 'DELETE FROM cohort_counts WHERE rowid = ?', [Number(rows[o.pick % rows.length]!.id)]);
      return;
    }
    case 'sweep': {
      // The clock stands 45 s past the base: seconds older than `compactAfter` roll up into minutes, those older than 80 s go.
      const policy = { limit: o.limit, rounds: 2, settledMs: 60_000, ledgerMs: 600_000, countsMs: 80_000, compactAfterMs: o.compactAfter * 1000 };
      await createRetention({ database: t.database, clock: t.clock, logger: silentLogger, policy }).sweep();
    }
  }
}

describe('kept window sums', () => {
  it('equal the rollups’ sums of the same cells, whatever wrote the counts and however windows and due lines move', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 60, size: 'max' }), async (ops) => {
        // Off the minute: windows and buckets have ragged edges, and compaction folds seconds into a minute below a window's start.
        const start = Date.UTC(2026, 10, 1, 12, 0, 17) + 345;
        const t = await createTestApp({ start });
        try {
          for (const key of ['r', 's']) {
            const created = await t.call('POST', '/v1/rollouts', { body: { key, plan: [{ live: 50 }] } });
            if (created.status !== 201) throw new Error(created.text);
          }
          const ids = Object.fromEntries((await run(t, 'SELECT id, key FROM rollouts')).rows.map((r) => [String(r.key), Number(r.id)]));
          const base = Math.floor(start / 1000);
          t.clock.advance(45_000);
          const servers = [createWindowSums(t.database), createWindowSums(t.database)];
          for (const o of ops) {
            if (o.kind !== 'pass') {
              await apply(t, ids, base, o);
              continue;
            }
            const cells: WindowCell[] = o.cells.map((c) => {
              const [key, cohort, path] = CELLS[c.cell]!;
              const lo = base + STARTS[c.start]!;
              return { rolloutId: ids[key]!, cohort, path, since: lo * 1000 + c.ms, dueBefore: (lo + c.due) * 1000 + c.ms };
            });
            const watched = [...new Set([...cells.map((c) => c.rolloutId), ...(o.alsoWatched ? [ids.r!, ids.s!] : [])])];
            const kept = await servers[o.server]!.sums(cells, watched);
            const fresh = await windowSumsMany(t.database.db, cells);
            expect(kept, JSON.stringify(cells)).toEqual(fresh.map((sums) => sums ?? zeroSums()));
          }
          // Bounded by what is watched: a server that takes over sweeps every row but those of the cells it watches.
          const only: WindowCell = { rolloutId: ids.r!, cohort: 'c1', path: 'new', since: (base - 7) * 1000, dueBefore: (base + 20) * 1000 };
          await createWindowSums(t.database).sums([only], [ids.r!]);
          expect((await run(t, 'SELECT rollout_id, cohort, path FROM count_windows')).rows.map((r) => [Number(r.rollout_id), r.cohort, r.path])).toEqual([[ids.r!, 'c1', 'new']]);
        } finally {
          await t.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 300_000);

  it('takes a count written at a row’s own edges (its start, its due line, a second either side) on the right side of each', async () => {
    const start = Date.UTC(2026, 10, 1, 12, 0, 17) + 345;
    const t = await createTestApp({ start });
    try {
      const base = Math.floor(start / 1000);
      const sums = createWindowSums(t.database);
      const cell: WindowCell = { rolloutId: 1, cohort: 'c1', path: 'new', since: base * 1000 + 400, dueBefore: (base + 9) * 1000 + 400 };
      const upsert = (bucket: number, n: number) =>
        run(
          t,
          `INSERT INTO cohort_counts (rollout_id, cohort, path, bucket, ${COUNTERS.join(', ')}) VALUES (1, 'c1', 'new', ?, ?, ?, 0, 0, 0, 0, 0)
           ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed`,
          [bucket, n, n],
        );
      const expectFresh = async () => expect(await sums.sums([cell], [1])).toEqual([(await windowSumsMany(t.database.db, [cell]))[0] ?? zeroSums()]);
      // The row's window: [base, …), due [base, base + 10).
      const edges = [base - 1, base, base + 9, base + 10, base + 11];
      for (const bucket of edges) await upsert(bucket, 1);
      await expectFresh();
      for (const bucket of edges) {
        await upsert(bucket, 2); // an update of the second's row
        await expectFresh();
      }
      for (const bucket of edges) {
        await run(t, 'DELETE FROM cohort_counts WHERE bucket = ?', [bucket]);
        await expectFresh();
        await upsert(bucket, 4); // an insert
        await expectFresh();
      }
    } finally {
      await t.close();
    }
  });

  it('moves a row’s due line only every few seconds, spread over the passes, and reads the seconds between', async () => {
    const start = Date.UTC(2026, 10, 1, 12, 0, 17) + 345;
    const t = await createTestApp({ start });
    try {
      await t.call('POST', '/v1/rollouts', { body: { key: 'r', plan: [{ live: 50 }] } });
      const id = Number((await run(t, "SELECT id FROM rollouts WHERE key = 'r'")).rows[0]!.id);
      const base = Math.floor(start / 1000);
      for (let s = 0; s < 40; s++)
        await run(t, `INSERT INTO cohort_counts (rollout_id, cohort, path, bucket, ${COUNTERS.join(', ')}) VALUES (?, 'c1', 'new', ?, 1, 1, 0, 0, 0, 0, 0)`, [id, base + s]);
      const sums = createWindowSums(t.database);
      const moved: number[] = [];
      for (let due = 1; due <= 3 * ADVANCE_EVERY; due++) {
        const cell = { rolloutId: id, cohort: 'c1', path: 'new', since: base * 1000, dueBefore: (base + due) * 1000 };
        const [got] = await sums.sums([cell], [id]);
        // [base, base + due]: due + 1 seconds of one message each.
        expect(got!.due).toBe(due + 1);
        expect(got!.received).toBe(40);
        const de = Number((await run(t, 'SELECT de FROM count_windows')).rows[0]!.de);
        if (de === base + due + 1 && due > 1) moved.push(due);
      }
      // Filled at the first pass, then moved once every ADVANCE_EVERY seconds of due line, not every pass.
      expect(moved.length).toBeGreaterThanOrEqual(2);
      expect(moved.length).toBeLessThanOrEqual(4);
    } finally {
      await t.close();
    }
  });
});
