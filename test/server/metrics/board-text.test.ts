/**
 * The board's gauges are written by hand (server/metrics/board-text.ts) and
 * kept per rollout between scrapes. Held here, over random boards and random
 * changes from scrape to scrape, to the text prom-client writes for the same
 * gauges set the way /metrics set them before (the reference below): byte
 * for byte, label values with quotes, backslashes and newlines included.
 * fast-check prints the seed and the shrunk case of any failure.
 */
import fc from 'fast-check';
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ROLLOUT_STATES } from '@rollcall/protocol';
import { HEALTH_STATUSES } from '../../../server/health/status.ts';
import type { JudgedCohort, RateName } from '../../../server/health/view.ts';
import { createBoardText, GUARD_OF, type RolloutStatusFigures } from '../../../server/metrics/board-text.ts';
import { stepShares } from '../../../server/rollouts/model.ts';

/** The gauges as /metrics set them through prom-client, one scrape's worth. */
function reference(statuses: RolloutStatusFigures[], cohortLabel: (rollout: string, cohort: string) => string): Promise<string> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const liveBp = gauge('rollcall_rollout_live_basis_points', 'Live share of the current step, in basis points', ['rollout']);
  const shadowBp = gauge('rollcall_rollout_shadow_basis_points', 'Shadow share of the current step, in basis points', ['rollout']);
  const effectiveLiveBp = gauge('rollcall_rollout_effective_live_basis_points', 'Share of the key space really on the new path (reverted cohorts excluded), in basis points', ['rollout']);
  const health = gauge('rollcall_rollout_health', '1 for the health status each rollout has (healthy, breached, reverted, degraded, idle), 0 for the others', ['rollout', 'status']);
  const judgedRatio = gauge(
    'rollcall_cohort_judged_ratio',
    "The rates health judges over the guard window: loss (lost of due), failure (failure rate over the baseline's), mismatch (net of mismatches withdrawn as noise); absent without a denominator",
    ['rollout', 'cohort', 'guard'],
  );
  const toleranceRatio = gauge('rollcall_guard_tolerance_ratio', "Each rate guard's tolerance (maxLossRate, maxFailureRateDelta, maxMismatchRate)", ['rollout', 'guard']);
  const judgedCompared = gauge('rollcall_cohort_judged_compared', 'Comparisons in the window health judges', ['rollout', 'cohort']);
  const judgedMismatched = gauge('rollcall_cohort_judged_mismatched', 'Mismatches in the window health judges, net of those withdrawn as noise: what the mismatch guard counts', ['rollout', 'cohort']);
  const judgedWithdrawn = gauge('rollcall_cohort_judged_withdrawn', 'Mismatches in the window health judges withdrawn because every field they differ in is learned noise or ignored', ['rollout', 'cohort']);
  const state = gauge('rollcall_rollout_state', '1 for the state each rollout is in, 0 for the others', ['rollout', 'state']);
  for (const { row } of statuses) {
    const shares = stepShares(row);
    const live = row.state === 'completed' ? 10_000 : row.state === 'draft' || row.state === 'reverted' ? 0 : Math.round((shares.live ?? 0) * 100);
    liveBp.set({ rollout: row.key }, live);
    shadowBp.set({ rollout: row.key }, row.state === 'running' || row.state === 'paused' ? Math.round(Math.max(shares.shadow ?? 0, shares.live ?? 0) * 100) - live : 0);
    for (const s of ROLLOUT_STATES) state.set({ rollout: row.key, state: s }, s === row.state ? 1 : 0);
  }
  for (const row of statuses) {
    effectiveLiveBp.set({ rollout: row.rollout }, Math.round(row.effectiveLive * 100));
    for (const s of HEALTH_STATUSES) health.set({ rollout: row.rollout, status: s }, s === row.status ? 1 : 0);
  }
  for (const row of statuses) {
    for (const [rate, guard] of Object.entries(GUARD_OF) as [RateName, string][]) if (row.tolerances !== undefined) toleranceRatio.set({ rollout: row.rollout, guard }, row.tolerances[rate]);
    for (const c of row.cohorts ?? []) {
      if (cohortLabel(row.rollout, c.name) !== c.name) continue;
      const labels = { rollout: row.rollout, cohort: c.name };
      for (const [rate, guard] of Object.entries(GUARD_OF) as [RateName, string][]) {
        const value = c.rates[rate];
        if (value !== null) judgedRatio.set({ ...labels, guard }, value);
      }
      judgedCompared.set(labels, c.compared);
      judgedMismatched.set(labels, c.mismatched);
      judgedWithdrawn.set(labels, c.withdrawn);
    }
  }
  return registry.metrics();
}

/** The label cap as metrics.ts keeps it: the first `cap` cohorts of a rollout are labelled, later ones are `other`. */
function labels(cap: number) {
  const seen = new Map<string, Set<string>>();
  return (rollout: string, cohort: string): string => {
    const names = seen.get(rollout) ?? seen.set(rollout, new Set()).get(rollout)!;
    if (names.has(cohort)) return cohort;
    if (names.size >= cap) return 'other';
    names.add(cohort);
    return cohort;
  };
}

const name = fc.oneof(fc.constantFrom('c1', 'c2', 'baseline', 'shadow', 'a"b', 'back\\slash', 'new\nline'), fc.string({ maxLength: 6 }));
const rate = fc.option(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 0.1 + 0.2)), { nil: null });
const cohort: fc.Arbitrary<JudgedCohort> = fc.record({ name, compared: fc.nat(), mismatched: fc.nat(), withdrawn: fc.nat(), rates: fc.record({ loss: rate, failureDelta: rate, mismatch: rate }) });
const status = (key: string): fc.Arbitrary<RolloutStatusFigures> =>
  fc
    .record({
      state: fc.constantFrom(...ROLLOUT_STATES),
      plan: fc.array(fc.record({ live: fc.integer({ min: 0, max: 100 }), shadow: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
      step: fc.option(fc.nat(3), { nil: null }),
      version: fc.nat(1),
      status: fc.constantFrom('healthy', 'breached'),
      effectiveLive: fc.constantFrom(0, 5, 12.5),
      cohorts: fc.option(fc.uniqueArray(cohort, { selector: (c) => c.name, maxLength: 5 }), { nil: undefined }),
      tolerances: fc.option(fc.record({ loss: fc.double({ min: 0, max: 1, noNaN: true }), failureDelta: fc.constant(0.02), mismatch: fc.constant(0.01) }), { nil: undefined }),
    })
    .map(({ state, plan, step, version, ...rest }) => ({ rollout: key, row: { key, state, plan: plan as never, step, version }, ...rest }));

const KEYS = ['orders-v2', 'ledger"x', 'with\\back', 'multi\nline', 'tick-0001'];
const board = fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: KEYS.length }).chain((keys) => fc.tuple(...keys.map(status)));

describe('the board gauges written by hand', () => {
  it('are the text prom-client writes for the same gauges, scrape after scrape', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(board, fc.array(fc.boolean(), { minLength: KEYS.length, maxLength: KEYS.length })), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), async (scrapes, cap) => {
        const ours = labels(cap);
        const theirs = labels(cap);
        const text = createBoardText(ours);
        let previous: RolloutStatusFigures[] = [];
        for (const [next, keep] of scrapes) {
          // A rollout unchanged from the scrape before keeps its objects (as the board keeps them) and its kept lines are used;
          // a changed one is new objects, whose version may well be the one before (a new measurement of the same rollout).
          const statuses = next.map((s, i) => (keep[i] ? previous.find((p) => p.rollout === s.rollout) : undefined) ?? s);
          expect(text.render(statuses)).toBe(await reference(statuses, theirs));
          previous = statuses;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('writes a rollout again when what it is made from moved', () => {
    const text = createBoardText(labels(64));
    const row = { key: 'r', state: 'running' as const, plan: [{ live: 5 }, { live: 100 }] as never, step: 0, version: 1 };
    const cohorts: JudgedCohort[] = [{ name: 'c1', compared: 0, mismatched: 0, withdrawn: 0, rates: { loss: 0.5, failureDelta: null, mismatch: null } }];
    const first = text.render([{ rollout: 'r', status: 'healthy', effectiveLive: 5, row, cohorts }]);
    expect(first).toContain('rollcall_cohort_judged_ratio{rollout="r",cohort="c1",guard="loss"} 0.5');
    // Only the figures moved (a new measurement of the same version): the lines follow.
    const moved = text.render([{ rollout: 'r', status: 'healthy', effectiveLive: 5, row, cohorts: [{ ...cohorts[0]!, rates: { ...cohorts[0]!.rates, loss: 0.25 } }] }]);
    expect(moved).toContain('rollcall_cohort_judged_ratio{rollout="r",cohort="c1",guard="loss"} 0.25');
    const breached = text.render([{ rollout: 'r', status: 'breached', effectiveLive: 5, row, cohorts }]);
    expect(breached).toContain('rollcall_rollout_health{rollout="r",status="breached"} 1');
    expect(text.render([])).not.toContain('rollout="r"');
  });
});
