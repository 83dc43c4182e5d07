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
import { among } from '../db/json-args.ts';

/** A cohort's counts over a window, per path: every counter, and those received past the grace. */
export interface CountSums extends Counts {
  /** Received in buckets that are past the grace: messages that are due. */
  due: number;
}

/** Every counter at zero, as one literal: every sums object has the same shape, which the pass's figures are copied from thousands of times. */
export function zeroSums(): CountSums {
  return { due: 0, received: 0, processed: 0, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 } satisfies Record<'due' | (typeof COUNTERS)[number], 0>;
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

/**
 * Rows sent as one JSON argument, an array of values each (unpacking arrays is the cheaper), and
 * their columns in SQL: both follow one list of names, so neither side can be reordered alone.
 */
export function jsonArgs<const N extends readonly string[]>(names: N) {
  const index = (name: N[number]) => names.indexOf(name);
  return {
    /** The argument: each row's values in the order of `names`. */
    pack: (rows: Record<N[number], string | number>[]) => JSON.stringify(rows.map((row) => names.map((name: N[number]) => row[name]))),
    /** `value ->> k AS name` for every name, for a `SELECT … FROM json_each(arg)`. */
    columns: sql.raw(names.map((name, k) => `value ->> ${k} AS ${name}`).join(', ')),
    /** One value of `alias`'s JSON row, by name. */
    at: (alias: string, name: N[number]) => sql.raw(`${alias}.value ->> ${index(name)}`),
  };
}

/** What each part of a window sums, in the order of its JSON array: the due count, then every counter. */
export const PART_FIELDS = ['due', ...COUNTERS] as const satisfies readonly (keyof CountSums)[];
const partSums = (due: string) => [due, ...COUNTERS.map((c) => `sum(${c})`)].join(', ');
/** A row of `windowSumsMany`'s read: the cell's index, its head and minutes as JSON arrays of PART_FIELDS, its tail's due count. */
interface WindowSumsRow {
  i: number;
  head: string | null;
  minutes: string | null;
  tail: number | null;
}

/** What a window's args hold per cell: rollout, cohort, path, its first bucket `lo` and the end `de` (exclusive) of its due buckets, unix s. */
export const WINDOW_CELL = jsonArgs(['rid', 'cohort', 'path', 'lo', 'de']);

/** A cell's `lo` and `de` (unix s): its due buckets are [lo, de), de ≥ lo. */
export function cellBuckets(cell: WindowCell): { lo: number; de: number } {
  const lo = Math.floor(cell.since / 1000);
  return { lo, de: Math.max(lo, Math.floor(cell.dueBefore / 1000) + 1) };
}

/**
 * `WITH … s AS (…)`: for every cell of `args` (WINDOW_CELL rows, with `i` its index), its head and
 * minutes as JSON arrays of PART_FIELDS and its tail's due count; `windowSumsMany` reads it, and
 * window-sums.ts fills its kept rows from it.
 */
export function windowParts(args: string) {
  // countPieces, in SQL: lo, the first whole minute m0, the due range's end de and its last whole minute's end dm.
  // Three index ranges per cohort: seconds [lo, m0), minutes from m0 on, and the due range's seconds past its minutes.
  return sql`
    WITH a AS (SELECT key AS i, ${WINDOW_CELL.columns} FROM json_each(${args})),
      p AS MATERIALIZED (SELECT *, (lo + 59) / 60 * 60 AS m0, max((lo + 59) / 60 * 60, de / 60 * 60) AS dm FROM a),
      s AS (SELECT p.i AS i, p.rid AS rid, p.cohort AS cohort, p.path AS path, p.lo AS lo, p.de AS de,
        (SELECT json_array(${sql.raw(partSums('sum(CASE WHEN c.bucket < p.de THEN c.received ELSE 0 END)'))}) FROM cohort_counts AS c
          WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.lo AND c.bucket < p.m0) AS head,
        (SELECT json_array(${sql.raw(partSums('sum(CASE WHEN c.bucket < p.dm THEN c.received ELSE 0 END)'))}) FROM count_minutes AS c
          WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.m0) AS minutes,
        (SELECT sum(c.received) FROM cohort_counts AS c
          WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.dm AND c.bucket < p.de) AS tail
      FROM p)`;
}

/** The cells of `cells` as WINDOW_CELL's argument. */
export const windowArgs = (cells: WindowCell[]): string => WINDOW_CELL.pack(cells.map((c) => ({ rid: c.rolloutId, cohort: c.cohort, path: c.path, ...cellBuckets(c) })));

/** Count sums of many cohorts' windows in one read, in the order asked (undefined: no counts at all). */
export async function windowSumsMany(ex: Executor, cells: WindowCell[]): Promise<(CountSums | undefined)[]> {
  if (cells.length === 0) return [];
  // Five values a cell: what it costs to unpack them from JSON is, with a thousand rollouts, a good part of the read.
  const rows = await ex.all<WindowSumsRow>(sql`${windowParts(windowArgs(cells))} SELECT i, head, minutes, tail FROM s`);
  const out: (CountSums | undefined)[] = cells.map(() => undefined);
  for (const row of rows) {
    // A part without rows sums to nulls.
    const parts = [row.head, row.minutes].map((text) => JSON.parse(String(text ?? '[]')) as (number | null)[]).filter((values) => values[1] !== null && values[1] !== undefined);
    if (parts.length === 0 && row.tail === null) continue;
    const sums = zeroSums();
    sums.due = Number(row.tail ?? 0);
    for (const values of parts) PART_FIELDS.forEach((field, k) => (sums[field] += Number(values[k] ?? 0)));
    out[Number(row.i)] = sums;
  }
  return out;
}

export type LedgerStatus = 'lost' | 'late' | 'replayed';
const STATUSES: LedgerStatus[] = ['lost', 'late', 'replayed'];
/** A cell's ledger pieces (ledgerPieces): the raw head r0–r1, tallied seconds s0–s1, minutes m0–m1 and seconds u0–u1, the raw tail q0–q1. */
const LEDGER_CELL = jsonArgs(['rid', 'cohort', 'path', 'r0', 'r1', 's0', 's1', 'm0', 'm1', 'u0', 'u1', 'q0', 'q1']);
/** A row of `ledgerCountsMany`'s read: the index among the cells asked, and each piece's counts as a JSON array of STATUSES. */
interface LedgerPiecesRow {
  i: number;
  a: string | null;
  b: string | null;
  c: string | null;
  d: string | null;
  e: string | null;
}
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
  const bad = await ex.all<{ rid: number; cohort: string }>(sql`SELECT DISTINCT rollout_id AS rid, cohort FROM ledger_totals WHERE rollout_id IN ${among(ids)}`);
  const badSet = new Set(bad.map((b) => `${b.rid}/${b.cohort}`));
  const asked = cells.flatMap((c, i) => (badSet.has(`${c.rolloutId}/${c.cohort}`) ? [i] : []));
  if (asked.length === 0) return out;
  const args = LEDGER_CELL.pack(
    asked.map((i) => {
      const c = cells[i]!;
      const { rawHead, seconds, rawTail } = ledgerPieces(c.since, c.dueBefore);
      return {
        rid: c.rolloutId, cohort: c.cohort, path: c.path, r0: rawHead[0], r1: rawHead[1], s0: seconds.head[0], s1: seconds.head[1],
        m0: seconds.minutes[0], m1: seconds.minutes[1], u0: seconds.tail[0], u1: seconds.tail[1], q0: rawTail[0], q1: rawTail[1],
      };
    }),
  );
  const tallies = (span: number, lo: string, hi: string) => sql.raw(`(SELECT ${BY_STATUS('t', 't.n')} FROM ledger_tallies AS t
    WHERE t.rollout_id = p.rid AND t.cohort = p.cohort AND t.path = p.path AND t.span = ${span} AND t.bucket >= p.${lo} AND t.bucket < p.${hi})`);
  const raw = (lo: string, hiTest: string) => sql.raw(`(SELECT ${BY_STATUS('m', '1')} FROM messages AS m
    WHERE m.rollout_id = p.rid AND m.status IN ('lost', 'late', 'replayed') AND m.cohort = p.cohort AND m.received_at >= p.${lo} AND m.received_at ${hiTest} AND m.path = p.path)`);
  const rows = await ex.all<LedgerPiecesRow>(sql`
    WITH p AS MATERIALIZED (SELECT key AS i, ${LEDGER_CELL.columns} FROM json_each(${args}))
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
