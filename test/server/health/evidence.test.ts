import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epochShare, logEvidence, lowerBound, moreNeeded, upperBound } from '../../../server/health/evidence.ts';
import { seeded as rng } from '../../simulate/random.ts';

const counts = fc.integer({ min: 1, max: 100_000 }).chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 0, max: n }) }));
const rate = fc.double({ min: 1e-4, max: 0.99, noNaN: true });

describe('anytime-valid evidence about a rate', () => {
  it('grows with events seen and shrinks with the rate tolerated', () => {
    fc.assert(
      fc.property(counts, rate, rate, ({ n, k }, p, q) => {
        const [lo, hi] = p < q ? [p, q] : [q, p];
        expect(logEvidence(k, n, hi)).toBeLessThanOrEqual(logEvidence(k, n, lo) + 1e-9);
        if (k < n) expect(logEvidence(k + 1, n, lo)).toBeGreaterThanOrEqual(logEvidence(k, n, lo) - 1e-9);
      }),
      { numRuns: 2_000, seed: 25 },
    );
  });

  it('holds the rate seen between its confidence bounds, and the bounds invert the test', () => {
    fc.assert(
      fc.property(counts, fc.double({ min: 1e-6, max: 0.2, noNaN: true }), ({ n, k }, alpha) => {
        const lower = lowerBound(k, n, alpha);
        const upper = upperBound(k, n, alpha);
        expect(lower).toBeLessThanOrEqual(k / n + 1e-12);
        expect(upper).toBeGreaterThanOrEqual(k / n - 1e-12);
        if (lower > 1e-6) expect(logEvidence(k, n, lower * 0.999)).toBeGreaterThanOrEqual(Math.log(1 / alpha) - 1e-6);
        if (lower > 0 && lower < k / n * 0.999) expect(logEvidence(k, n, Math.min(k / n, lower * 1.001 + 1e-9))).toBeLessThan(Math.log(1 / alpha) + 1e-6);
      }),
      { numRuns: 1_000, seed: 26 },
    );
  });

  it('reaches 1/α on a stream at the tolerated rate at most α of the time, however often it is looked at', () => {
    // 4,000 streams of 2,000 messages at exactly the tolerated rate. Between two events every component of the
    // mixture only falls, so checking right after each event is checking after every message.
    const alpha = 0.05;
    const threshold = Math.log(1 / alpha);
    for (const p0 of [0.001, 0.02, 0.3]) {
      const random = rng(Math.round(p0 * 1e6));
      let crossed = 0;
      for (let s = 0; s < 4_000; s++) {
        let k = 0;
        for (let n = 1; n <= 2_000; n++) {
          if (random() >= p0) continue;
          k++;
          if (logEvidence(k, n, p0) >= threshold) {
            crossed++;
            break;
          }
        }
      }
      // α × 4,000 = 200 expected at most; 3 standard deviations above it is 241.
      expect(crossed, `p0 ${p0}: ${crossed} of 4000 streams crossed`).toBeLessThanOrEqual(241);
    }
  });

  it('refutes a rate of zero with one event, and never a rate of one', () => {
    expect(logEvidence(1, 1000, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(logEvidence(1000, 1000, 1)).toBe(Number.NEGATIVE_INFINITY);
    expect(logEvidence(0, 0, 0.1)).toBe(0);
    expect(upperBound(0, 0, 0.01)).toBe(1);
  });

  it('estimates the messages a verdict still needs only when the rate seen is above the tolerance', () => {
    expect(moreNeeded(1, 1000, 0.01, Math.log(1000))).toBeNull();
    const more = moreNeeded(5, 100, 0.01, Math.log(4000))!;
    expect(more).toBeGreaterThan(0);
    // At the same rate, that many more messages do reach the threshold (within the estimate's slack).
    const n = 100 + more * 2;
    expect(logEvidence(Math.round(n * 0.05), n, 0.01)).toBeGreaterThanOrEqual(Math.log(4000));
  });

  it('spends at most alpha over every window of a step', () => {
    let total = 0;
    for (let e = 0; e < 100_000; e++) total += epochShare(e);
    expect(total).toBeLessThanOrEqual(1);
    expect(total).toBeGreaterThan(0.9999);
  });
});
