/**
 * A window's sums from rollups, so that what a controller pass reads per
 * cohort is bounded by the window's length, not by the traffic in it.
 *
 * Triggers (migration `0017_count_rollup_triggers`) keep `count_minutes`
 * equal to `cohort_counts` summed by minute, and `ledger_tallies` /
 * `ledger_totals` equal to the ledger's lost, late and replayed rows counted
 * by received second, minute and in all. Triggers rather than writes in each
 * store: the counts and the ledger have many writers (ingest's upserts,
 * retention's roll-up into minutes and its deletes, lost marking, late
 * settlement, replay), and a trigger keeps every one of them, and any added
 * later, consistent by construction, inside the writer's own transaction,
 * without touching ingest's statements. Retention's roll-up inserts a
 * minute's row and deletes its seconds: +sum and −each, net zero here.
 *
 * A window [since, due] then reads whole minutes from the rollup and only
 * the seconds at its edges from per-second rows (at most 59 on each side),
 * and for the ledger, whose bounds are in milliseconds, the part of a second
 * at each end from the ledger itself. A cohort that never had a bad message
 * (no `ledger_totals` row) reads no tallies at all. The results are exactly
 * those of sums over the raw rows (test/server/health/rollups-property.test.ts).
 */
import { sql } from 'drizzle-orm';
import { COUNTERS } from '../../sdk/wire.ts';
import type { Executor } from '../db/database.ts';
import { zeroSums, type CountSums } from './store.ts';

/** Half-open [lo, hi) ranges of unix seconds: per-second rows below and above, whole minutes between. */
export interface SecondsSplit {
  head: [number, number];
  minutes: [number, number];
  tail: [number, number];
}

/** Splits seconds [lo, hi) (hi may be Infinity) into whole minutes and the seconds at either edge. */
export function splitSeconds(lo: number, hi: number): SecondsSplit {
  const firstMinute = Math.ceil(lo / 60) * 60;
  const endMinute = hi === Infinity ? Infinity : Math.floor(hi / 60) * 60;
  if (firstMinute >= endMinute) return { head: [lo, hi], minutes: [0, 0], tail: [0, 0] };
  return { head: [lo, firstMinute], minutes: [firstMinute, endMinute], tail: [endMinute, hi] };
}

/**
 * Where a cohort's count sums come from: every counter from `since` (ms) on, and `received` up to
 * `dueBefore` (ms) as due. Seconds [from, firstMinute) from cohort_counts, minutes from there on from
 * count_minutes; the due range ends at `dueEnd` (exclusive): its head is the part below `dueHeadEnd`,
 * its minutes those below `dueMinutesEnd`, and the seconds of its last, partial minute are `dueTail`.
 */
export function countPieces(since: number, dueBefore: number) {
  const from = Math.floor(since / 1000);
  const firstMinute = Math.ceil(from / 60) * 60;
  const dueEnd = Math.max(from, Math.floor(dueBefore / 1000) + 1);
  if (dueEnd <= firstMinute) return { from, firstMinute, dueHeadEnd: dueEnd, dueMinutesEnd: firstMinute, dueTail: [0, 0] };
  const dueMinutesEnd = Math.floor(dueEnd / 60) * 60;
  return { from, firstMinute, dueHeadEnd: firstMinute, dueMinutesEnd, dueTail: [dueMinutesEnd, dueEnd] };
}

/** Where a cohort's ledger counts over received ∈ [since, dueBefore] (ms) come from: raw rows at the edges, tallies between. */
export function ledgerPieces(since: number, dueBefore: number) {
  const first = Math.ceil(since / 1000);
  const end = Math.floor(dueBefore / 1000);
  // Within one second (or empty): the ledger's own rows, [since, dueBefore].
  if (first >= end) return { rawHead: [since, since] as const, seconds: splitSeconds(0, 0), rawTail: [since, dueBefore] as const };
  return { rawHead: [since, first * 1000] as const, seconds: splitSeconds(first, end), rawTail: [end * 1000, dueBefore] as const };
}

export interface WindowCell {
  rolloutId: number;
  cohort: string;
  path: string;
  since: number;
  dueBefore: number;
}

const SUMS = COUNTERS.map((c) => `sum(${c})`).join(', ');
type Row = Record<string, string | null | number>;

/** Count sums of many cohorts' windows in one read, in the order asked (undefined: no counts at all). */
export async function windowSumsMany(ex: Executor, cells: WindowCell[]): Promise<(CountSums | undefined)[]> {
  if (cells.length === 0) return [];
  const args = cells.map((c) => {
    const p = countPieces(c.since, c.dueBefore);
    return [c.rolloutId, c.cohort, c.path, p.from, p.firstMinute, p.dueHeadEnd, p.dueMinutesEnd, p.dueTail[0], p.dueTail[1]];
  });
  // Three index ranges per cohort: the head's seconds, the minutes from there on, and the due range's last seconds.
  const rows = await ex.all<Row>(sql`
    WITH p AS MATERIALIZED (SELECT key AS i, value ->> '$[0]' AS rid, value ->> '$[1]' AS cohort, value ->> '$[2]' AS path, value ->> '$[3]' AS lo,
      value ->> '$[4]' AS m0, value ->> '$[5]' AS dh, value ->> '$[6]' AS dm, value ->> '$[7]' AS t0, value ->> '$[8]' AS t1 FROM json_each(${JSON.stringify(args)}))
    SELECT p.i AS i,
      (SELECT json_array(sum(CASE WHEN c.bucket < p.dh THEN c.received ELSE 0 END), ${sql.raw(SUMS)}) FROM cohort_counts AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.lo AND c.bucket < p.m0) AS head,
      (SELECT json_array(sum(CASE WHEN c.bucket < p.dm THEN c.received ELSE 0 END), ${sql.raw(SUMS)}) FROM count_minutes AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.m0) AS minutes,
      (SELECT sum(c.received) FROM cohort_counts AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.t0 AND c.bucket < p.t1) AS tail
    FROM p`);
  const out: (CountSums | undefined)[] = cells.map(() => undefined);
  for (const row of rows) {
    const parts = [row.head, row.minutes].map((text) => JSON.parse(String(text ?? '[]')) as (number | null)[]).filter((values) => values[1] !== null && values[1] !== undefined);
    if (parts.length === 0 && row.tail === null) continue;
    const sums = zeroSums();
    sums.due = Number(row.tail ?? 0);
    for (const values of parts) {
      sums.due += Number(values[0] ?? 0);
      COUNTERS.forEach((counter, k) => (sums[counter] += Number(values[k + 1] ?? 0)));
    }
    out[Number(row.i)] = sums;
  }
  return out;
}

export type LedgerStatus = 'lost' | 'late' | 'replayed';
const STATUSES: LedgerStatus[] = ['lost', 'late', 'replayed'];
const BY_STATUS = (table: string, n: string) => `json_array(${STATUSES.map((s) => `sum(CASE WHEN ${table}.status = '${s}' THEN ${n} ELSE 0 END)`).join(', ')})`;

/** Lost, late and replayed ledger rows received in each cell's [since, dueBefore] (ms), by status, in one read. */
export async function ledgerCountsMany(ex: Executor, cells: Omit<WindowCell, 'path'>[]): Promise<Partial<Record<LedgerStatus, number>>[]> {
  if (cells.length === 0) return [];
  const args = cells.map((c) => {
    const { rawHead, seconds, rawTail } = ledgerPieces(c.since, c.dueBefore);
    return [c.rolloutId, c.cohort, ...rawHead, ...seconds.head, ...seconds.minutes, ...seconds.tail, ...rawTail];
  });
  const tallies = (span: number, lo: string, hi: string) => sql.raw(`(SELECT ${BY_STATUS('t', 't.n')} FROM ledger_tallies AS t
    WHERE t.rollout_id = p.rid AND t.cohort = p.cohort AND t.span = ${span} AND t.bucket >= p.${lo} AND t.bucket < p.${hi})`);
  const raw = (lo: string, hiTest: string) => sql.raw(`(SELECT ${BY_STATUS('m', '1')} FROM messages AS m
    WHERE m.rollout_id = p.rid AND m.status IN ('lost', 'late', 'replayed') AND m.cohort = p.cohort AND m.received_at >= p.${lo} AND m.received_at ${hiTest})`);
  // Only cohorts that ever had a lost, late or replayed message are read further (one probe of ledger_totals each).
  const rows = await ex.all<Row>(sql`
    WITH p AS MATERIALIZED (SELECT key AS i, value ->> '$[0]' AS rid, value ->> '$[1]' AS cohort, value ->> '$[2]' AS r0, value ->> '$[3]' AS r1,
      value ->> '$[4]' AS s0, value ->> '$[5]' AS s1, value ->> '$[6]' AS m0, value ->> '$[7]' AS m1, value ->> '$[8]' AS u0, value ->> '$[9]' AS u1,
      value ->> '$[10]' AS q0, value ->> '$[11]' AS q1 FROM json_each(${JSON.stringify(args)}))
    SELECT p.i AS i, ${raw('r0', '< p.r1')} AS a, ${tallies(1, 's0', 's1')} AS b, ${tallies(60, 'm0', 'm1')} AS c, ${tallies(1, 'u0', 'u1')} AS d, ${raw('q0', '<= p.q1')} AS e
    FROM p WHERE EXISTS (SELECT 1 FROM ledger_totals AS x WHERE x.rollout_id = p.rid AND x.cohort = p.cohort)`);
  const out: Partial<Record<LedgerStatus, number>>[] = cells.map(() => ({}));
  for (const row of rows) {
    const counts: Partial<Record<LedgerStatus, number>> = {};
    for (const part of [row.a, row.b, row.c, row.d, row.e]) {
      const values = JSON.parse(String(part ?? '[]')) as (number | null)[];
      STATUSES.forEach((status, k) => {
        const n = Number(values[k] ?? 0);
        if (n !== 0) counts[status] = (counts[status] ?? 0) + n;
      });
    }
    out[Number(row.i)] = counts;
  }
  return out;
}
