/**
 * The controller's measurement of every rollout it watches in a pass, in
 * three grouped reads whatever their number: which pseudo-cohorts have
 * traffic, the count sums of every planned cohort, and their ledger counts.
 * Each read takes the plans as one JSON argument; sums and ledger counts come
 * from the rollups (rollups.ts), a bounded number of rows per cohort, the
 * same reads a one-rollout measurement makes, without a round trip per
 * cohort: with 1,000 rollouts that was some 25,000 queries a tick.
 * Figures and verdicts are assembled by the same code as `measureRollout`.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { rowsOf } from '../db/json-args.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import { assembleHealth, explainDrops, figuresOf, MEASURED_PATH, NO_EXTRAS, planCohorts, trafficDecides, windowOf, type CohortPlan, type RolloutHealth } from './measure.ts';
import { dueMsOf } from './settle.ts';
import { jsonArgs, ledgerCountsMany, windowSumsMany, type CountSums, type WindowCell } from './rollups.ts';
import { latencySumsMany, type LatencyRow } from './store.ts';
import { withdrawNoise } from './withdraw.ts';

interface Planned {
  aggregate: RolloutAggregate;
  window: ReturnType<typeof windowOf>;
  plans: CohortPlan[];
}

/** A pseudo-cohort asked about: has it traffic since the bucket (unix s) its window starts in? */
const PSEUDO_CELL = jsonArgs(['rid', 'cohort', 'bucket']);
/** A row of that read: a pseudo-cohort with traffic. */
/** A pseudo cohort with traffic in its rollout's window: the rollout and the cohort. */
type TrafficRow = [rolloutId: number, cohort: string];

/** Guard figures of every rollout, by rollout id; `horizons` holds each one's judging horizon (default `now`). */
export interface Settled {
  /** Each rollout's due time (settle.ts), by id. */
  dueMs: Map<number, number>;
  /** Each rollout's latency histograms over its window, by id. */
  latency: Map<number, LatencyRow[]>;
}

/** Where a rollout's timings are summed from (unix s): the minute holding its window's start. */
export const latencySince = (aggregate: RolloutAggregate, now: number): number => Math.floor(windowOf(aggregate, { now }).from / 60_000) * 60;

/** The old path's timings of every rollout of a pass, and from them when each one's messages are due: read before marking lost. */
export async function settleMany(ex: Executor, aggregates: RolloutAggregate[], now: number): Promise<Settled> {
  const latency = await latencySumsMany(ex, aggregates.map((a) => ({ rolloutId: a.rollout.id, since: latencySince(a, now) })));
  return settledFrom(aggregates, latency);
}

/** Each rollout's due time from its timings. */
export function settledFrom(aggregates: RolloutAggregate[], latency: Map<number, LatencyRow[]>): Settled {
  const dueMs = new Map(aggregates.map((a) => [a.rollout.id, dueMsOf(a.rollout.guards, latency.get(a.rollout.id) ?? [])]));
  return { dueMs, latency };
}

/** Count sums of many cells in the order asked: `windowSumsMany`'s, or the same read from the controller's kept rows (window-sums.ts). */
export type SumsOf = (cells: WindowCell[]) => Promise<(CountSums | undefined)[]>;

export async function measureMany(
  ex: Executor,
  aggregates: RolloutAggregate[],
  options: { now: number; horizons: Map<number, number>; settled?: Settled; sums?: SumsOf },
): Promise<Map<number, RolloutHealth>> {
  if (aggregates.length === 0) return new Map();
  const settled = options.settled ?? (await settleMany(ex, aggregates, options.now));
  const windows = aggregates.map((aggregate) =>
    windowOf(aggregate, { now: options.now, horizon: options.horizons.get(aggregate.rollout.id), dueMs: settled.dueMs.get(aggregate.rollout.id) }),
  );

  // Only the pseudo-cohorts whose traffic the plan asks about: a quarter to a half fewer probes than all four.
  const pseudo = PSEUDO_CELL.pack(aggregates.flatMap((a, i) => trafficDecides(a.rollout).map((cohort) => ({ rid: a.rollout.id, cohort, bucket: Math.floor(windows[i]!.from / 1000) }))));
  const arg = (name: 'rid' | 'cohort' | 'bucket') => PSEUDO_CELL.at('p', name);
  // One JSON value (json-args.ts): at 1,000 rollouts, a row each.
  const traffic = rowsOf<TrafficRow>(
    await ex.all<{ rows: string | null }>(sql`
    SELECT json_group_array(json_array(${arg('rid')}, ${arg('cohort')})) AS rows FROM json_each(${pseudo}) AS p
    WHERE EXISTS (SELECT 1 FROM cohort_counts c WHERE c.rollout_id = ${arg('rid')} AND c.cohort = ${arg('cohort')}
      AND c.path IN ('old', 'new', 'shadow') AND c.bucket >= ${arg('bucket')})`),
  );
  const withTraffic = new Map<number, Set<string>>();
  for (const [rolloutId, cohort] of traffic) withTraffic.set(rolloutId, (withTraffic.get(rolloutId) ?? new Set()).add(cohort));

  const planned: Planned[] = aggregates.map((aggregate, i) => ({ aggregate, window: windows[i]!, plans: planCohorts(aggregate, windows[i]!, withTraffic.get(aggregate.rollout.id) ?? new Set()) }));
  // One cell per planned cohort; both reads take them all as one JSON argument (rollups.ts).
  const cells = planned.flatMap(({ aggregate, window, plans }) => plans.map((plan) => ({ rolloutId: aggregate.rollout.id, cohort: plan.name, path: MEASURED_PATH[plan.kind], since: plan.since, dueBefore: window.dueBefore })));
  const [sumsAt, ledgerAt] = await Promise.all([(options.sums ?? ((asked) => windowSumsMany(ex, asked)))(cells), ledgerCountsMany(ex, cells)]);

  const result = new Map<number, RolloutHealth>();
  let at = 0;
  for (const { aggregate, window, plans } of planned) {
    const figures = plans.map(() => {
      const index = at++;
      return figuresOf(sumsAt[index], ledgerAt[index] ?? {});
    });
    await explainDrops(ex, aggregate.rollout.id, plans, figures);
    // Noise withdrawal reads only for a rollout with mismatches in its window (see withdraw.ts).
    const noise = await withdrawNoise(ex, aggregate.rollout, window.from, plans, figures);
    result.set(aggregate.rollout.id, assembleHealth(aggregate, window, plans, figures, settled.latency.get(aggregate.rollout.id) ?? [], NO_EXTRAS, noise));
  }
  return result;
}
