/**
 * A controller pass re-measures only the rollouts whose figures can have
 * moved since the pass before; the others keep their measurement. So a pass
 * costs what changed, not what is watched: a thousand quiet rollouts cost a
 * few grouped reads, not eleven thousand window sums.
 *
 * A rollout's measurement (measure-many.ts) is a pure function of:
 * - its rows: counts, the ledger's lost, late and replayed rows, drops,
 *   mismatch field sets and learned noise. Triggers count every change to
 *   them in `measure_inputs` (migration 0020), in the writer's transaction,
 *   whoever the writer and whichever server it runs on; the pass reads those
 *   counts before any figure, so a measurement kept under a count is never
 *   older than the rows that count stands for (a write in between only moves
 *   the count, and the next pass measures again), and after its due lines
 *   (a reporter's watermark commits with its counts, so counts behind a due
 *   line the pass uses are in the count it compares);
 * - its latency rows over the window (they also say when messages are due),
 *   counted among the inputs too (migration 0022): `settle` reads a
 *   rollout's timings again only when its count or its window's first minute
 *   moved, and they are compared here by value as well;
 * - the rollout's version (every change to it, its cohorts or pins moves it),
 *   its window (start, epoch, due time) and what the guards watch now;
 * - the due line (`dueBefore`), which moves with the clock. A later due line
 *   changes nothing for a rollout with no counts received past the old one
 *   and no lost, late or replayed rows at all (those are few; such a rollout
 *   is measured every pass, as before).
 * When all of these are as they were, the kept measurement is the one a fresh
 * read would give (test/server/health/measure-memo.test.ts drives random
 * writes of every kind and the clock, and holds the two equal).
 *
 * Under traffic every rollout moves between two passes, and measuring a
 * thousand afresh costs a pass several times its interval. With a `Spread`
 * (the controller passes one), a pass measures afresh every rollout whose
 * version, window or watch moved and every one whose figures are
 * more than `maxAgeMs` old, then the oldest of the others up to `limit` in
 * all, or more where waiting would bring some past `maxAgeMs` (`spreadCount`);
 * the rest keep their last figures as they were, with the time they were
 * measured (`at`), and are listed as `carried`: the controller decides
 * nothing on them, and the next passes measure them oldest first. So a pass
 * costs `limit` measurements, or under steady traffic at 250 ms passes a
 * third of what moved, and while passes keep that pace every rollout is
 * measured at least every `maxAgeMs`. The guards' tests are
 * anytime-valid (guards.ts): looking less often at a rollout does not raise
 * the chance of reverting a healthy cohort, it only waits that long to look.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { rowsOf } from '../db/json-args.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import { restamped, watchOf, windowOf, type RolloutHealth } from './measure.ts';
import { latencySince, measureMany, settledFrom, type Settled } from './measure-many.ts';
import { latencySumsMany, type LatencyRow } from './store.ts';
import type { WindowSums } from './window-sums.ts';

interface Kept {
  /** Version, window start, epoch, window length, due time and watch, as one string. */
  key: string;
  changes: number;
  latency: LatencyRow[];
  dueBefore: number;
  /** Nothing received past the due line and no lost, late or replayed rows: a later due line changes nothing. */
  settled: boolean;
  health: RolloutHealth;
}

/** A row of the inputs read: the rollout, how often its rows changed, and whether it has any lost, late or replayed rows (1 or 0). */
type InputsRow = [id: number, changes: number, bad: number];

function sameLatency(a: LatencyRow[], b: LatencyRow[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.n !== y.n || x.slot !== y.slot || x.cohort !== y.cohort || x.path !== y.path || x.role !== y.role) return false;
  }
  return true;
}

/** How often a rollout's measure inputs changed (migrations 0020, 0022), and whether it has lost, late or replayed rows. */
interface MeasureInputs {
  changes: number;
  bad: boolean;
}

/** Each rollout's input count and whether it has lost, late or replayed rows, by id: read before any figure (see the header). */
async function readInputs(ex: Executor, ids: number[]): Promise<Map<number, MeasureInputs>> {
  const rows = rowsOf<InputsRow>(
    await ex.all<{ rows: string | null }>(sql`
    SELECT json_group_array(json_array(r.value, coalesce(m.changes, 0), EXISTS (SELECT 1 FROM ledger_totals AS t WHERE t.rollout_id = r.value))) AS rows
    FROM json_each(${JSON.stringify(ids)}) AS r LEFT JOIN measure_inputs AS m ON m.rollout_id = r.value`),
  );
  return new Map(rows.map(([id, changes, bad]) => [id, { changes, bad: bad !== 0 }]));
}

/** How a pass spreads its fresh measurements when many rollouts moved (see the header). */
export interface Spread {
  /** Fresh measurements a pass makes beyond those it must (a rollout's version, window or watch moved; figures too old). */
  limit: number;
  /** Figures older than this (ms since they were last current) are measured afresh, whatever the limit. */
  maxAgeMs: number;
  /** How far apart passes are (see `spreadCount`). */
  everyMs: number;
}

/**
 * How many of the deferrable rollouts (their figures' ages in ms, oldest first) a pass measures: `room`, or
 * more where fewer passes are left before some reach `maxAgeMs` than that would need. A rollout of age a may
 * wait floor((maxAgeMs - everyMs / 2 - a) / everyMs) passes more (half a pass of slack for a pass that starts
 * late); for every k, those that may wait no more than k passes must fit in this pass and the k after it.
 * Measuring them oldest first, none is found past `maxAgeMs` while passes keep their pace, whatever moves
 * (test/server/controller/spread.test.ts simulates bursts, lulls and random moves).
 */
export function spreadCount(ages: number[], room: number, spread: Spread): number {
  const every = Math.max(1, spread.everyMs);
  let needed = room;
  for (let i = 0; i < ages.length; i++) {
    const waits = Math.max(0, Math.floor((spread.maxAgeMs - every / 2 - ages[i]!) / every));
    needed = Math.max(needed, Math.ceil((i + 1) / (waits + 1)));
  }
  return Math.min(ages.length, needed);
}

export function createMeasureMemo(windowSums?: WindowSums) {
  const kept = new Map<number, Kept>();
  /** Each rollout's timings as last read: under which input count, from which minute. */
  const timings = new Map<number, { changes: number; since: number; rows: LatencyRow[] }>();

  return {
    /**
     * settleMany's timings and due times for every rollout, reading again only the timings of rollouts whose
     * input count (read first) or window's first minute moved. A write between the two reads moves the count
     * past the one kept, so the next pass reads again.
     */
    async settle(ex: Executor, aggregates: RolloutAggregate[], now: number): Promise<Settled> {
      const ids = aggregates.map((a) => a.rollout.id);
      const passed = new Set(ids);
      for (const id of timings.keys()) if (!passed.has(id)) timings.delete(id);
      const inputs = aggregates.length === 0 ? new Map<number, MeasureInputs>() : await readInputs(ex, ids);
      const stale: { rolloutId: number; since: number }[] = [];
      for (const aggregate of aggregates) {
        const id = aggregate.rollout.id;
        const since = latencySince(aggregate, now);
        const before = timings.get(id);
        if (before === undefined || before.changes !== inputs.get(id)!.changes || before.since !== since) stale.push({ rolloutId: id, since });
      }
      const fresh = await latencySumsMany(ex, stale);
      for (const { rolloutId, since } of stale) timings.set(rolloutId, { changes: inputs.get(rolloutId)!.changes, since, rows: fresh.get(rolloutId) ?? [] });
      // As settleMany gives them: a rollout with no timings has no entry.
      const latency = new Map(ids.flatMap((id) => (timings.get(id)!.rows.length === 0 ? [] : [[id, timings.get(id)!.rows] as const])));
      return settledFrom(aggregates, latency);
    },

    /**
     * measureMany's figures for every rollout, measuring afresh only those whose inputs moved; `measured`
     * says how many were. With a `spread`, some that moved may keep their last figures (`carried`; see the
     * header), and `overdue` counts those measured because their figures had passed `maxAgeMs` (none while
     * passes keep their pace). Rollouts not passed are forgotten.
     */
    async measure(
      ex: Executor,
      aggregates: RolloutAggregate[],
      options: { now: number; horizons: Map<number, number>; settled: Settled; spread?: Spread },
    ): Promise<{ health: Map<number, RolloutHealth>; measured: number; carried: Set<number>; overdue: number }> {
      const { now, settled, spread } = options;
      const ids = aggregates.map((a) => a.rollout.id);
      const passed = new Set(ids);
      for (const id of kept.keys()) if (!passed.has(id)) kept.delete(id);
      const carried = new Set<number>();
      let overdue = 0;
      if (aggregates.length === 0) return { health: new Map(), measured: 0, carried, overdue };
      // Read before any figure (see the header), and after the due lines: not `settle`'s read. Counts behind a
      // watermark the horizons saw are in the same commit as the watermark, so they are in this count (a settled
      // rollout takes a later due line on the strength of it), as is the pass's own lost marking.
      const inputs = await readInputs(ex, ids);

      const health = new Map<number, RolloutHealth>();
      const stale: RolloutAggregate[] = [];
      /** Moved, but their last figures may stand one pass more (a spread). */
      const deferrable: RolloutAggregate[] = [];
      const keys = new Map<number, string>();
      for (const aggregate of aggregates) {
        const { rollout } = aggregate;
        const window = windowOf(aggregate, { now, horizon: options.horizons.get(rollout.id), dueMs: settled.dueMs.get(rollout.id) });
        const key = `${rollout.version}|${window.from}|${window.epoch}|${window.windowSeconds}|${window.dueMs}|${watchOf(rollout, now)}`;
        keys.set(rollout.id, key);
        const before = kept.get(rollout.id);
        const input = inputs.get(rollout.id)!;
        const dueLineHolds = before !== undefined && (window.dueBefore === before.dueBefore || (before.settled && window.dueBefore > before.dueBefore));
        if (before !== undefined && dueLineHolds && before.key === key && before.changes === input.changes && sameLatency(before.latency, settled.latency.get(rollout.id) ?? [])) {
          before.dueBefore = window.dueBefore;
          before.health = restamped(before.health, now, window.dueBefore);
          health.set(rollout.id, before.health);
        } else if (spread !== undefined && before !== undefined && before.key === key) {
          if (now - before.health.at <= spread.maxAgeMs) deferrable.push(aggregate);
          else {
            overdue++;
            stale.push(aggregate);
          }
        } else stale.push(aggregate);
      }
      if (deferrable.length > 0) {
        // Oldest figures first (ties in the order passed); those past the limit keep their figures and their time.
        const at = (a: RolloutAggregate) => kept.get(a.rollout.id)!.health.at;
        deferrable.sort((a, b) => at(a) - at(b));
        const room = spreadCount(
          deferrable.map((a) => now - at(a)),
          Math.max(0, spread!.limit - stale.length),
          spread!,
        );
        for (const [i, aggregate] of deferrable.entries()) {
          if (i < room) stale.push(aggregate);
          else {
            health.set(aggregate.rollout.id, kept.get(aggregate.rollout.id)!.health);
            carried.add(aggregate.rollout.id);
          }
        }
      }
      const fresh = await measureMany(ex, stale, { ...options, ...(windowSums === undefined ? {} : { sums: (cells) => windowSums.sums(cells, ids) }) });
      for (const aggregate of stale) {
        const id = aggregate.rollout.id;
        const measured = fresh.get(id)!;
        health.set(id, measured);
        const input = inputs.get(id)!;
        kept.set(id, {
          key: keys.get(id)!,
          changes: input.changes,
          latency: settled.latency.get(id) ?? [],
          dueBefore: measured.dueBefore,
          settled: !input.bad && measured.cohorts.every((c) => c.received === c.due),
          health: measured,
        });
      }
      return { health, measured: stale.length, carried, overdue };
    },
  };
}

export type MeasureMemo = ReturnType<typeof createMeasureMemo>;
