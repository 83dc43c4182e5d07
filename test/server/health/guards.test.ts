import { describe, expect, it } from 'vitest';
import { latencySlot } from '@rollcall/protocol';
import { breachesOf, ratesOf, verdictsOf, type Figures, type GuardInput } from '../../../server/health/guards.ts';
import { DEFAULT_GUARDS } from '../../../server/rollouts/model.ts';

const figures = (overrides: Partial<Figures> = {}): Figures => ({
  received: 1000, due: 1000, processed: 990, failed: 10, lost: 0, late: 0, pending: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, ...overrides,
});
const judge = (f: Figures, extra: Partial<GuardInput> = {}, guards = DEFAULT_GUARDS) => {
  const input: GuardInput = { figures: f, epoch: 0, ...extra };
  const verdicts = verdictsOf(input, guards, ratesOf(f, input.baseline, input.latency));
  return { verdicts, breaches: breachesOf('c1', f, verdicts) };
};
const check = (f: Figures, extra: Partial<GuardInput> = {}, guards = DEFAULT_GUARDS) => judge(f, extra, guards).breaches.map((b) => b.guard);

/** A histogram of `n` timings around `ms` (spread over three slots). */
function timings(ms: number, n: number): Map<number, number> {
  const slot = latencySlot(ms);
  return new Map([[slot - 1, Math.round(n * 0.3)], [slot, Math.round(n * 0.4)], [slot + 1, n - Math.round(n * 0.3) - Math.round(n * 0.4)]]);
}

describe('guards', () => {
  it('revert a large loss after a handful of due messages, and a rate at the tolerance never', () => {
    expect(check(figures({ due: 40, received: 40, processed: 36, failed: 0, lost: 4 }))).toEqual(['loss']); // 10% loss, 40 messages
    expect(check(figures({ due: 10, received: 10, processed: 9, failed: 0, lost: 1 }))).toEqual([]); // one loss in ten says little
    expect(check(figures({ due: 100_000, received: 100_000, lost: 100 }))).toEqual([]); // exactly 0.1%
    expect(check(figures({ due: 100_000, received: 100_000, lost: 200 }))).toEqual(['loss']); // 0.2% over 100,000
  });

  it('compare failure with what the baseline may be: an outage on both paths reverts nothing, a baseline with no data bounds nothing', () => {
    const failing = figures({ processed: 700, failed: 300 });
    expect(check(failing, { baseline: figures({ processed: 1000, failed: 0 }) })).toEqual(['failure']);
    expect(check(failing, { baseline: figures({ processed: 700, failed: 300 }) })).toEqual([]);
    expect(check(failing, { baseline: figures({ processed: 710, failed: 290 }) })).toEqual([]);
    // No settled baseline: no evidence of a difference (it used to be held at 0 %).
    expect(check(failing, { baseline: figures({ processed: 0, failed: 0 }) })).toEqual([]);
    expect(check(failing)).toEqual([]);
    // An old path that fails 5 % of the time can start a rollout whose new path does the same.
    expect(check(figures({ processed: 95, failed: 5 }), { baseline: figures({ processed: 38, failed: 2 }) })).toEqual([]);
  });

  it('judge mismatches against the tolerance where nobody learns noise, and break on any dropped event', () => {
    expect(check(figures({ compared: 200, mismatched: 20 }))).toEqual(['mismatch']);
    expect(check(figures({ compared: 200, mismatched: 2 }))).toEqual([]);
    expect(check(figures({ dropped: 1, received: 3, due: 3, processed: 3, failed: 0 }))).toEqual(['dropped']);
  });

  it('judge each field against how often two old runs differ there', () => {
    const f = figures({ compared: 600, mismatched: 600 });
    // A timestamp that differs in most double runs as in most comparisons: no breach.
    const timestamp = { path: '$.handledAt', count: 600, differing: 55, ignored: false };
    expect(check(f, { noise: { runs: 60, fields: [timestamp] } })).toEqual([]);
    // While few double runs are in, the old path's rate is unknown: nothing is decided either way.
    expect(check(f, { noise: { runs: 2, fields: [{ ...timestamp, differing: 0 }] } })).toEqual([]);
    // A field wrong in 1 message of 20 beyond its noise is stopped.
    const type = { path: '$.type', count: 36 + 30, differing: 12, ignored: false };
    expect(check(f, { noise: { runs: 1200, fields: [timestamp, type] } })).toEqual(['mismatch']);
    // A comparison that threw is never noise.
    expect(check(figures({ compared: 200, mismatched: 20 }), { noise: { runs: 0, fields: [{ path: '(error)', count: 20, differing: 0, ignored: false }] } })).toEqual(['mismatch']);
    // A field the rules ignore is not judged.
    expect(check(f, { noise: { runs: 1200, fields: [{ ...type, ignored: true }] } })).toEqual([]);
  });

  it('stop a new path three times slower at p95, and let one within the ratio run', () => {
    const base = timings(50, 2000);
    expect(check(figures(), { latency: { observed: timings(150, 300), reference: base } })).toEqual(['latency']);
    expect(check(figures(), { latency: { observed: timings(70, 3000), reference: base } })).toEqual([]);
    // Too few reference timings to bound the old path's p95: no verdict.
    expect(check(figures(), { latency: { observed: timings(500, 300), reference: timings(50, 5) } })).toEqual([]);
    // Off with maxLatencyRatio 0.
    expect(check(figures(), { latency: { observed: timings(500, 300), reference: base } }, { ...DEFAULT_GUARDS, maxLatencyRatio: 0 })).toEqual([]);
  });

  it('judge a rollout stored before alpha and the latency guard existed with its stored tolerances and the defaults', () => {
    const { alpha: _alpha, maxLatencyRatio: _ratio, ...stored } = DEFAULT_GUARDS;
    const old = { ...stored, maxLossRate: 0.01 } as typeof DEFAULT_GUARDS;
    const f = figures({ due: 1000, received: 1000, processed: 985, failed: 0, lost: 15 });
    // 1.5 % lost is over 0.1 % but not clearly over the stored 1 %.
    expect(check(f, {}, old)).toEqual([]);
    expect(judge(f, {}, old).verdicts.find((v) => v.guard === 'loss')!.needed).toBeCloseTo(judge(f).verdicts.find((v) => v.guard === 'loss')!.needed, 6);
    expect(check(figures(), { latency: { observed: timings(150, 300), reference: timings(50, 2000) } }, old)).toEqual(['latency']);
  });

  it('hard-stop when every due message is lost, whatever the statistics', () => {
    expect(check(figures({ due: 10, received: 10, processed: 0, failed: 0, lost: 10 }), {}, { ...DEFAULT_GUARDS, maxLossRate: 0.9 })).toEqual(['loss']);
  });

  it('spend less of alpha in later windows of a step', () => {
    const f = figures({ due: 40, received: 40, processed: 37, failed: 0, lost: 3 });
    const first = judge(f).verdicts.find((v) => v.guard === 'loss')!;
    const tenth = judge(f, { epoch: 9 }).verdicts.find((v) => v.guard === 'loss')!;
    expect(tenth.needed).toBeCloseTo(first.needed * 100, 0);
  });

  it('say the evidence behind a breach, and how much more a pending verdict needs', () => {
    const { breaches } = judge(figures({ due: 312, received: 312, processed: 305, failed: 0, lost: 7 }));
    expect(breaches[0]).toMatchObject({ cohort: 'c1', guard: 'loss', threshold: 0.001, sample: 312 });
    expect(breaches[0]!.reason).toMatch(/^loss 2\.2% vs tolerated 0\.100%: evidence passed 1\/α \(.* ≥ 6580\) after 312 messages/);
    const pending = judge(figures({ due: 200, received: 200, processed: 199, failed: 0, lost: 1 })).verdicts.find((v) => v.guard === 'loss')!;
    expect(pending.breached).toBe(false);
    expect(pending.more).toBeGreaterThan(0);
    expect(judge(figures()).verdicts.find((v) => v.guard === 'loss')!.more).toBeNull();
  });
});

describe('dropped events', () => {
  it('breach at once, and say why by reason when the SDK said', () => {
    expect(breachesOf('c1', figures({ received: 50, dropped: 7, droppedBy: { refused: 5, buffer_full: 2 } }), [])).toEqual([
      expect.objectContaining({ guard: 'dropped', value: 7, reason: '7 events were dropped by an SDK (refused 5, buffer_full 2): the accounting is incomplete' }),
    ]);
    // An older SDK sends no reasons.
    expect(breachesOf('c1', figures({ received: 50, dropped: 3 }), [])[0]!.reason).toBe('3 events were dropped by an SDK: the accounting is incomplete');
  });
});
