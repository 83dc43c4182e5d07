import { describe, expect, it } from 'vitest';
import { breachesOf, ratesOf, type Figures } from '../../../server/health/guards.ts';
import { DEFAULT_GUARDS } from '../../../server/rollouts/model.ts';

const figures = (overrides: Partial<Figures> = {}): Figures => ({
  received: 1000, due: 1000, processed: 990, failed: 10, lost: 0, late: 0, pending: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, ...overrides,
});
const check = (f: Figures, baseline?: Figures, guards = DEFAULT_GUARDS) => breachesOf('c1', f, ratesOf(f, baseline, guards), guards).map((b) => b.guard);

describe('guards', () => {
  it('breach on loss above the rate once the due sample is large enough', () => {
    expect(check(figures({ lost: 2 }))).toEqual(['loss']); // 0.2% > 0.1%
    expect(check(figures({ lost: 1 }))).toEqual([]); // 0.1% is not above 0.1%
    expect(check(figures({ due: 50, lost: 25 }))).toEqual([]); // below minSample
  });

  it('compare failure with the baseline, so an outage on both paths reverts nothing', () => {
    const failing = figures({ processed: 700, failed: 300 });
    expect(check(failing, figures({ processed: 1000, failed: 0 }))).toEqual(['failure']);
    expect(check(failing, figures({ processed: 700, failed: 300 }))).toEqual([]);
    expect(check(failing, figures({ processed: 710, failed: 290 }))).toEqual([]); // 1 point worse: at the threshold
    // A baseline too small to say anything counts as failing nothing.
    expect(check(failing, figures({ processed: 5, failed: 5 }))).toEqual(['failure']);
  });

  it('breach on mismatches above the rate, and on any dropped event', () => {
    expect(check(figures({ compared: 200, mismatched: 3 }))).toEqual(['mismatch']);
    expect(check(figures({ compared: 200, mismatched: 2 }))).toEqual([]);
    expect(check(figures({ compared: 20, mismatched: 20 }))).toEqual([]);
    expect(check(figures({ dropped: 1, received: 3, due: 3, processed: 3, failed: 0 }))).toEqual(['dropped']);
  });

  it('name the figures that decided it', () => {
    const f = figures({ lost: 40 });
    const [breach] = breachesOf('c2', f, ratesOf(f, undefined, DEFAULT_GUARDS), DEFAULT_GUARDS);
    expect(breach).toEqual({ cohort: 'c2', guard: 'loss', value: 0.04, threshold: 0.001, sample: 1000, reason: '40 of 1000 due messages lost (4.0% > 0.100%)' });
  });
});
