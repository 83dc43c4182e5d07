/**
 * A window's sums from rollups, so that what a controller pass reads per
 * cohort is bounded by the window's length, not by the traffic in it.
 *
 * Triggers (migration `0017_count_rollup_triggers`) keep `count_minutes`
 * equal to `cohort_counts` summed by minute, and `ledger_tallies` /
 * `ledger_totals` equal to the ledger's lost, late and replayed rows counted
 * by path and received second and minute, and by cohort in all. Triggers rather than writes in each
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
import { COUNTERS, type Counts } from '@rollcall/protocol';
import type { Executor } from '../db/database.ts';

/** A cohort's counts over a window, per path: every counter, and those received past the grace. */
export interface CountSums extends Counts {
  /** Received in buckets that are past the grace: messages that are due. */
  due: number;
}

export function zeroSums(): CountSums {
  const sums = { due: 0 } as CountSums;
  for (const c of COUNTERS) sums[c] = 0;
  return sums;
}

/** Half-open [lo, hi) ranges of unix seconds: per-second rows below and above, whole minutes between. */
export interface SecondsSplit {
  head: [number, number];
  minutes: [number, number];
  tail: [number, number];
}

/** Splits seconds [lo, hi) into whole minutes and the seconds at either edge. */
export function splitSeconds(lo: number, hi: number): SecondsSplit {
  const firstMinute = Math.ceil(lo / 60) * 60;
  const endMinute = Math.floor(hi / 60) * 60;
  if (firstMinute >= endMinute) return { head: [lo, hi], minutes: [0, 0], tail: [0, 0] };
  return { head: [lo, firstMinute], minutes: [firstMinute, endMinute], tail: [endMinute, hi] };
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
  // Five values a cell: what it costs to unpack them from JSON is, with a thousand rollouts, a good part of the read.
  const args = cells.map((c) => [c.rolloutId, c.cohort, c.path, Math.floor(c.since / 1000), Math.max(Math.floor(c.since / 1000), Math.floor(c.dueBefore / 1000) + 1)]);
  // countPieces, in SQL: lo, the first whole minute m0, the due range's end de and its last whole minute's end dm.
  // Three index ranges per cohort: seconds [lo, m0), minutes from m0 on, and the due range's seconds past its minutes.
  const rows = await ex.all<Row>(sql`
    WITH a AS (SELECT key AS i, value ->> 0 AS rid, value ->> 1 AS cohort, value ->> 2 AS path, value ->> 3 AS lo, value ->> 4 AS de FROM json_each(${JSON.stringify(args)})),
      p AS MATERIALIZED (SELECT *, (lo + 59) / 60 * 60 AS m0, max((lo + 59) / 60 * 60, de / 60 * 60) AS dm FROM a)
    SELECT p.i AS i,
      (SELECT json_array(sum(CASE WHEN c.bucket < p.de THEN c.received ELSE 0 END), ${sql.raw(SUMS)}) FROM cohort_counts AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.lo AND c.bucket < p.m0) AS head,
      (SELECT json_array(sum(CASE WHEN c.bucket < p.dm THEN c.received ELSE 0 END), ${sql.raw(SUMS)}) FROM count_minutes AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.m0) AS minutes,
      (SELECT sum(c.received) FROM cohort_counts AS c
        WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.dm AND c.bucket < p.de) AS tail
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

/**
 * Lost, late and replayed ledger rows of each cell's cohort and path received in its [since, dueBefore] (ms), by
 * status, in one read: the path the cohort is measured on, as its due counts are (a band reverted by its guard
 * sends its partners down the old path, whose losses are not the new path's).
 */
export async function ledgerCountsMany(ex: Executor, cells: WindowCell[]): Promise<Partial<Record<LedgerStatus, number>>[]> {
  const out: Partial<Record<LedgerStatus, number>>[] = cells.map(() => ({}));
  if (cells.length === 0) return out;
  // Only cohorts that ever had a lost, late or replayed message are read further: one small read finds them.
  const ids = [...new Set(cells.map((c) => c.rolloutId))];
  const bad = await ex.all<{ rid: number; cohort: string }>(sql`SELECT DISTINCT rollout_id AS rid, cohort FROM ledger_totals WHERE rollout_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  const badSet = new Set(bad.map((b) => `${b.rid}/${b.cohort}`));
  const asked = cells.flatMap((c, i) => (badSet.has(`${c.rolloutId}/${c.cohort}`) ? [i] : []));
  if (asked.length === 0) return out;
  const args = asked.map((i) => {
    const c = cells[i]!;
    const { rawHead, seconds, rawTail } = ledgerPieces(c.since, c.dueBefore);
    return [c.rolloutId, c.cohort, c.path, ...rawHead, ...seconds.head, ...seconds.minutes, ...seconds.tail, ...rawTail];
  });
  const tallies = (span: number, lo: string, hi: string) => sql.raw(`(SELECT ${BY_STATUS('t', 't.n')} FROM ledger_tallies AS t
    WHERE t.rollout_id = p.rid AND t.cohort = p.cohort AND t.path = p.path AND t.span = ${span} AND t.bucket >= p.${lo} AND t.bucket < p.${hi})`);
  const raw = (lo: string, hiTest: string) => sql.raw(`(SELECT ${BY_STATUS('m', '1')} FROM messages AS m
    WHERE m.rollout_id = p.rid AND m.status IN ('lost', 'late', 'replayed') AND m.cohort = p.cohort AND m.received_at >= p.${lo} AND m.received_at ${hiTest} AND m.path = p.path)`);
  const rows = await ex.all<Row>(sql`
    WITH p AS MATERIALIZED (SELECT key AS i, value ->> '$[0]' AS rid, value ->> '$[1]' AS cohort, value ->> '$[2]' AS path, value ->> '$[3]' AS r0, value ->> '$[4]' AS r1,
      value ->> '$[5]' AS s0, value ->> '$[6]' AS s1, value ->> '$[7]' AS m0, value ->> '$[8]' AS m1, value ->> '$[9]' AS u0, value ->> '$[10]' AS u1,
      value ->> '$[11]' AS q0, value ->> '$[12]' AS q1 FROM json_each(${JSON.stringify(args)}))
    SELECT p.i AS i, ${raw('r0', '< p.r1')} AS a, ${tallies(1, 's0', 's1')} AS b, ${tallies(60, 'm0', 'm1')} AS c, ${tallies(1, 'u0', 'u1')} AS d, ${raw('q0', '<= p.q1')} AS e
    FROM p`);
  for (const row of rows) {
    const counts: Partial<Record<LedgerStatus, number>> = {};
    for (const part of [row.a, row.b, row.c, row.d, row.e]) {
      const values = JSON.parse(String(part ?? '[]')) as (number | null)[];
      STATUSES.forEach((status, k) => {
        const n = Number(values[k] ?? 0);
        if (n !== 0) counts[status] = (counts[status] ?? 0) + n;
      });
    }
    out[asked[Number(row.i)]!] = counts;
  }
  return out;
}
