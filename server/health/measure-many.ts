/**
 * The controller's measurement of every rollout it watches in a pass, in
 * three grouped reads whatever their number: which pseudo-cohorts have
 * traffic, the count sums of every planned cohort, and their ledger counts.
 * Each read takes the plans as one JSON argument and probes the same index
 * ranges the one-rollout reads do (rollout, cohort, path, bucket; rollout,
 * status, received), so it costs what those did without a round trip per
 * cohort: with 1,000 rollouts that was some 25,000 queries a tick.
 * Figures and verdicts are assembled by the same code as `measureRollout`.
 */
import { sql } from 'drizzle-orm';
import { COUNTERS } from '../../sdk/wire.ts';
import type { Executor } from '../db/database.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import { assembleHealth, explainDrops, figuresOf, MEASURED_PATH, NO_EXTRAS, PSEUDO_COHORTS, planCohorts, windowOf, type CohortPlan, type RolloutHealth } from './measure.ts';
import { dueMsOf } from './settle.ts';
import { latencySumsMany, zeroSums, type CountSums, type LatencyRow } from './store.ts';
import { withdrawNoise } from './withdraw.ts';

interface Planned {
  aggregate: RolloutAggregate;
  window: ReturnType<typeof windowOf>;
  plans: CohortPlan[];
}

/** Guard figures of every rollout, by rollout id; `horizons` holds each one's judging horizon (default `now`). */
export interface Settled {
  /** Each rollout's due time (settle.ts), by id. */
  dueMs: Map<number, number>;
  /** Each rollout's latency histograms over its window, by id. */
  latency: Map<number, LatencyRow[]>;
}

/** The old path's timings of every rollout of a pass, and from them when each one's messages are due: read before marking lost. */
export async function settleMany(ex: Executor, aggregates: RolloutAggregate[], now: number): Promise<Settled> {
  const latency = await latencySumsMany(ex, aggregates.map((a) => ({ rolloutId: a.rollout.id, from: windowOf(a, { now }).from })));
  const dueMs = new Map(aggregates.map((a) => [a.rollout.id, dueMsOf(a.rollout.guards, latency.get(a.rollout.id) ?? [])]));
  return { dueMs, latency };
}

export async function measureMany(ex: Executor, aggregates: RolloutAggregate[], options: { now: number; horizons: Map<number, number>; settled?: Settled }): Promise<Map<number, RolloutHealth>> {
  if (aggregates.length === 0) return new Map();
  const settled = options.settled ?? (await settleMany(ex, aggregates, options.now));
  const windows = aggregates.map((aggregate) =>
    windowOf(aggregate, { now: options.now, horizon: options.horizons.get(aggregate.rollout.id), dueMs: settled.dueMs.get(aggregate.rollout.id) }),
  );

  const pseudo = aggregates.flatMap((a, i) => PSEUDO_COHORTS.map((cohort) => [a.rollout.id, cohort, Math.floor(windows[i]!.from / 1000)]));
  const traffic = await ex.all<{ rolloutId: number; cohort: string }>(sql`
    SELECT p.value ->> '$[0]' AS rolloutId, p.value ->> '$[1]' AS cohort FROM json_each(${JSON.stringify(pseudo)}) AS p
    WHERE EXISTS (SELECT 1 FROM cohort_counts c WHERE c.rollout_id = p.value ->> '$[0]' AND c.cohort = p.value ->> '$[1]'
      AND c.path IN ('old', 'new', 'shadow') AND c.bucket >= p.value ->> '$[2]')`);
  const withTraffic = new Map<number, Set<string>>();
  for (const row of traffic) withTraffic.set(Number(row.rolloutId), (withTraffic.get(Number(row.rolloutId)) ?? new Set()).add(row.cohort));

  const planned: Planned[] = aggregates.map((aggregate, i) => ({ aggregate, window: windows[i]!, plans: planCohorts(aggregate, windows[i]!, withTraffic.get(aggregate.rollout.id) ?? new Set()) }));
  // One row per planned cohort: [rollout id, cohort, path measured, since (ms), due before (ms)].
  const cells = planned.flatMap(({ aggregate, window, plans }) => plans.map((plan) => [aggregate.rollout.id, plan.name, MEASURED_PATH[plan.kind], plan.since, window.dueBefore]));
  // The plans are unpacked once (MATERIALIZED), not per row read; each plan's figures are one correlated
  // subquery over its index range, returned as one JSON array: no sort of millions of rows for a GROUP BY,
  // and one value per cohort for the client to convert rather than one per counter.
  const probes = sql`p AS MATERIALIZED (SELECT key AS i, value ->> '$[0]' AS rid, value ->> '$[1]' AS cohort, value ->> '$[2]' AS path,
    value ->> '$[3]' AS since, (value ->> '$[3]') / 1000 AS since_s, (value ->> '$[4]') / 1000 AS due_s, value ->> '$[4]' AS due_ms FROM json_each(${JSON.stringify(cells)}))`;
  const [sums, ledger] = await Promise.all([
    ex.all<{ i: number; sums: string | null }>(sql`
      WITH ${probes}
      SELECT p.i AS i, (SELECT json_array(sum(CASE WHEN c.bucket <= p.due_s THEN c.received ELSE 0 END), ${sql.raw(COUNTERS.map((counter) => `sum(c.${counter})`).join(', '))})
        FROM cohort_counts AS c WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= p.since_s) AS sums
      FROM p`),
    ex.all<{ i: number; counts: string | null }>(sql`
      WITH ${probes}
      SELECT p.i AS i, (SELECT json_array(sum(m.status = 'lost'), sum(m.status = 'late'), sum(m.status = 'replayed'))
        FROM messages AS m WHERE m.rollout_id = p.rid AND m.status IN ('lost', 'late', 'replayed') AND m.cohort = p.cohort AND m.received_at >= p.since
          AND m.received_at <= p.due_ms) AS counts
      FROM p`),
  ]);
  const sumsAt = new Map<number, CountSums>();
  for (const row of sums) {
    const values = JSON.parse(row.sums ?? '[]') as (number | null)[];
    if (values[0] === null || values[0] === undefined) continue;
    const s = zeroSums();
    s.due = Number(values[0]);
    COUNTERS.forEach((counter, k) => (s[counter] = Number(values[k + 1] ?? 0)));
    sumsAt.set(Number(row.i), s);
  }
  const ledgerAt = new Map<number, Record<string, number>>();
  for (const row of ledger) {
    const [lost, late, replayed] = (JSON.parse(row.counts ?? '[]') as (number | null)[]).map((n) => Number(n ?? 0));
    if (lost || late || replayed) ledgerAt.set(Number(row.i), { lost: lost!, late: late!, replayed: replayed! });
  }

  const result = new Map<number, RolloutHealth>();
  let at = 0;
  for (const { aggregate, window, plans } of planned) {
    const figures = plans.map((plan) => {
      const index = at++;
      const found = sumsAt.get(index);
      return figuresOf(plan, new Map(found === undefined ? [] : [[MEASURED_PATH[plan.kind], found]]), ledgerAt.get(index) ?? {});
    });
    await explainDrops(ex, aggregate.rollout.id, plans, figures);
    // Noise withdrawal reads only for a rollout with mismatches in its window (see withdraw.ts).
    const noise = await withdrawNoise(ex, aggregate.rollout, window.from, plans, figures);
    result.set(aggregate.rollout.id, assembleHealth(aggregate, window, plans, figures, settled.latency.get(aggregate.rollout.id) ?? [], NO_EXTRAS, noise));
  }
  return result;
}
