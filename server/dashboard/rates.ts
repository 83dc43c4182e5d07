/**
 * A cohort's rates over time, as the guards judge them: at each bucket's end,
 * the rate over the cohort's window so far (loss among the due messages,
 * failure over the baseline's, mismatches net of withdrawn noise among those
 * compared). The last point is therefore the rate in the cohort table; where
 * the buckets do not add up to the table (a report committed between the
 * two reads) the last point is the table's and `drift` says by how much.
 * Pure.
 */
import type { Bucket } from './series-read.ts';

export type Point = [number, number];

/** The rates the table shows for one cohort (health's `rates`). */
export interface TableRates {
  loss: number | null;
  failureDelta: number | null;
  mismatch: number | null;
}

export type RateName = keyof TableRates;
export const RATE_NAMES: RateName[] = ['loss', 'failureDelta', 'mismatch'];

export interface RateSeries {
  points: Point[];
  /** |computed − table| at the end: 0 unless the buckets and the table were read across a commit. */
  drift: number;
}

export interface Span {
  /** The width of a bucket (ms). */
  stepMs: number;
  /** When health measured (ms): no point lies later. */
  at: number;
  /** Received at or before this is due (ms): the loss rate ends here. */
  dueBefore: number;
}

/** Running sums: element i holds buckets 0…i (bucket 0 here is the one before the chart). */
function running(buckets: Bucket[]): Bucket[] {
  const sums: Bucket[] = [];
  for (const b of buckets) {
    const prev = sums.at(-1);
    sums.push(prev === undefined ? { ...b } : { t: b.t, received: prev.received + b.received, due: prev.due + b.due, processed: prev.processed + b.processed, failed: prev.failed + b.failed, lost: prev.lost + b.lost, compared: prev.compared + b.compared, mismatched: prev.mismatched + b.mismatched, withdrawable: prev.withdrawable + b.withdrawable });
  }
  return sums;
}

const ratio = (k: number, n: number) => (n > 0 ? k / n : null);
const failureOf = (s: Bucket) => ratio(s.failed, s.processed + s.failed);

/** The points of one rate: one wherever it or its denominator moved, and none before it has one; `end` caps a bucket's end. */
function pointsOf(sums: Bucket[], end: number, span: Span, value: (s: Bucket, i: number) => number | null, denominator: (s: Bucket, i: number) => number): Point[] {
  const points: Point[] = [];
  let last: [number, number] | null = null;
  sums.forEach((s, i) => {
    if (i === 0 || s.t > end) return;
    const v = value(s, i);
    const n = denominator(s, i);
    if (v === null || (last !== null && last[0] === v && last[1] === n)) return;
    last = [v, n];
    points.push([Math.min(s.t + span.stepMs, end), v]);
  });
  return points;
}

/** The three rates of one cohort over time, beside the baseline's buckets (for the failure rate over the baseline's). */
export function ratesOverTime(own: Bucket[], baseline: Bucket[] | undefined, span: Span): Record<RateName, Point[]> {
  const sums = running(own);
  const base = baseline === undefined ? undefined : running(baseline);
  return {
    loss: pointsOf(sums, span.dueBefore, span, (s) => ratio(s.lost, s.due), (s) => s.due),
    failureDelta: pointsOf(
      sums,
      span.at,
      span,
      (s, i) => {
        const f = failureOf(s);
        const b = base?.[i] === undefined ? null : failureOf(base[i]!);
        return f === null || b === null ? null : f - b;
      },
      (s, i) => s.processed + s.failed + (base?.[i]?.processed ?? 0) + (base?.[i]?.failed ?? 0),
    ),
    mismatch: pointsOf(sums, span.at, span, (s) => ratio(Math.max(0, s.mismatched - s.withdrawable), s.compared), (s) => s.compared),
  };
}

/** Holds a series to the table: its last point is the table's rate. */
export function agreeing(points: Point[], table: number | null, end: number): RateSeries {
  if (table === null) return { points: [], drift: points.length === 0 ? 0 : Math.abs(points.at(-1)![1]) };
  const last = points.at(-1);
  if (last === undefined) return { points: [[end, table]], drift: Math.abs(table) };
  return { points: [...points.slice(0, -1), [last[0], table]], drift: Math.abs(last[1] - table) };
}
