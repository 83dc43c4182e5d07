/**
 * When a message is due: once it is older than the rollout's own settle
 * time, so a 50 ms handler's losses are judged in about a second rather than
 * after the whole grace. The settle time is SETTLE_FACTOR × the p99.9 of the
 * handler timings in the window on every path (the old path's, and the new
 * path's too: a new path slower than the old but losing nothing must not have
 * its slow messages judged lost), at least MIN_DUE_MS and at most
 * `graceSeconds`, which stays the longest any message waits. A rollout whose
 * paths report no timings (messages settled through `received()` and
 * `processed()`, possibly in another process) waits the whole grace, since
 * nothing says how long its queue takes. A verdict still waits for every live
 * reporter to report past the due time (the watermarks), so a slow flush or a
 * partitioned worker delays a judgement rather than inventing a loss.
 */
import { quantile } from '@rollcall/protocol';
import type { Guards } from '../rollouts/model.ts';
import type { LatencyRow } from './store.ts';

export const SETTLE_FACTOR = 3;
export const SETTLE_QUANTILE = 0.999;
export const MIN_DUE_MS = 1_000;

/** How long after its receipt a message of this rollout is due, from the window's timings of every path. */
export function dueMsOf(guards: Pick<Guards, 'graceSeconds'>, rows: readonly LatencyRow[]): number {
  const graceMs = guards.graceSeconds * 1000;
  const slots = new Map<number, number>();
  for (const row of rows) slots.set(row.slot, (slots.get(row.slot) ?? 0) + Number(row.n));
  const p = quantile(slots, SETTLE_QUANTILE);
  if (p === null) return graceMs;
  return Math.min(graceMs, Math.max(MIN_DUE_MS, Math.ceil(SETTLE_FACTOR * p)));
}
