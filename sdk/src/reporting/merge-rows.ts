/**
 * Adding reports together: count rows of one rollout, cohort and path sum
 * (every counter, the drops by reason, the latency histograms and the field
 * sets) and keep the earliest second; noise of one rollout sums its runs and
 * per-field counts. What the sender's queue does while the server is away.
 */
import { COUNTERS, MORE_PATHS, SLOTS, sparse, type CountRow, type FieldSet, type NoiseReport } from '@rollcall/protocol';
// Field sets kept per merged row as per cell within a window; more are counted under `(more)`.
import { MAX_FIELD_SETS } from './counters.ts';

function addHistogram(a: number[] | undefined, b: number[] | undefined): number[] | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const dense = new Uint32Array(SLOTS);
  for (const pairs of [a, b]) for (let i = 0; i + 1 < pairs.length; i += 2) dense[pairs[i]!]! += pairs[i + 1]!;
  return sparse(dense);
}

function addFieldSets(a: FieldSet[] | undefined, b: FieldSet[] | undefined): FieldSet[] | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const sets = new Map<string, number>();
  for (const set of [...a, ...b]) {
    let key = set.paths.join('\n');
    if (!sets.has(key) && sets.size >= MAX_FIELD_SETS) key = MORE_PATHS;
    sets.set(key, (sets.get(key) ?? 0) + set.count);
  }
  return [...sets].map(([key, count]) => ({ paths: key.split('\n'), count }));
}

function addRow(into: CountRow, from: CountRow): void {
  for (const c of COUNTERS) into[c] += from[c];
  into.second = Math.min(into.second, from.second);
  if (from.droppedBy !== undefined) {
    const by = (into.droppedBy ??= {});
    for (const [reason, n] of Object.entries(from.droppedBy) as [keyof typeof by, number][]) by[reason] = (by[reason] ?? 0) + n;
  }
  const latency = addHistogram(into.latency, from.latency);
  const candidateLatency = addHistogram(into.candidateLatency, from.candidateLatency);
  const differences = addFieldSets(into.differences, from.differences);
  if (latency !== undefined) into.latency = latency;
  if (candidateLatency !== undefined) into.candidateLatency = candidateLatency;
  if (differences !== undefined) into.differences = differences;
}

/** `into` with `from` added: one row per rollout, cohort and path. `into`'s rows are changed in place. */
export function mergeRows(into: CountRow[], from: CountRow[]): CountRow[] {
  const byKey = new Map<string, CountRow>();
  for (const row of into) byKey.set(`${row.rollout}\n${row.cohort}\n${row.path}`, row);
  for (const row of from) {
    const key = `${row.rollout}\n${row.cohort}\n${row.path}`;
    const found = byKey.get(key);
    if (found === undefined) byKey.set(key, { ...row });
    else addRow(found, row);
  }
  return [...byKey.values()];
}

/** `into` with `from` added: one report per rollout. */
export function mergeNoise(into: NoiseReport[], from: NoiseReport[]): NoiseReport[] {
  const byRollout = new Map<string, { runs: number; counts: Map<string, number> }>();
  for (const report of [...into, ...from]) {
    let learned = byRollout.get(report.rollout);
    if (learned === undefined) byRollout.set(report.rollout, (learned = { runs: 0, counts: new Map() }));
    learned.runs += report.runs ?? 0;
    report.paths.forEach((path, i) => learned.counts.set(path, (learned.counts.get(path) ?? 0) + (report.counts?.[i] ?? 1)));
  }
  return [...byRollout].map(([rollout, { runs, counts }]) => ({ rollout, paths: [...counts.keys()], runs, counts: [...counts.values()] }));
}
