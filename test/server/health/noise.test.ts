import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PathSet } from '@rollcall/protocol';
import {
  ignoredBy,
  judgeFields,
  learningProgress,
  NOISE_MIN_DIFFERING,
  NOISE_MIN_RUNS,
  differsBeyondNoise,
  noiseUnsettled,
  quietFields,
  withdrawable,
  type FieldSet,
  type NoiseEvidence,
} from '../../../server/health/noise.ts';

/** The mismatch guard's per-field test at the default tolerance and alpha share. */
const TEST = { tolerance: 0.01, alpha: 0.001 / 4 };

const FIELDS = ['$.handledAt', '$.traceId', '$.type', '$.amount', '$.items[*].id', '(error)', '(timeout)', '(more)'];
const field = fc.constantFrom(...FIELDS);

/** Evidence from double runs: some fields differed in some of them. */
const evidence = fc
  .record({ runs: fc.option(fc.integer({ min: 0, max: 500 }), { nil: null }), differing: fc.dictionary(field, fc.integer({ min: 1, max: 500 }), { maxKeys: 6 }) })
  .map(({ runs, differing }): NoiseEvidence => ({
    runs,
    fields: Object.entries(differing).map(([path, n]) => ({ path, differing: runs === null ? n : Math.min(n, Math.max(runs, 1)), firstSeenAt: 0, learnedAt: n >= 2 ? 1 : null, learnedFrom: null })),
  }));

const sets = fc.array(fc.record({ fields: fc.uniqueArray(field, { minLength: 1, maxLength: 5 }).map((f) => f.sort()), count: fc.integer({ min: 1, max: 200 }) }), { maxLength: 12 });
const ignore = fc.uniqueArray(fc.constantFrom('$.handledAt', '$.items', '$.nothing'), { maxLength: 2 });

function counted(s: FieldSet[]): number {
  return s.reduce((n, x) => n + x.count, 0);
}

describe('judging noise', () => {
  it('never withdraws a mismatch that differs in a field two old runs never differed in (and no rule ignores)', () => {
    fc.assert(
      fc.property(evidence, sets, ignore, fc.integer({ min: 0, max: 400 }), (ev, s, ig, extra) => {
        const compared = counted(s) + extra;
        const rules = new PathSet(ig);
        const quiet = quietFields(judgeFields(ev, s, compared, rules, TEST));
        const seen = new Set(ev.fields.map((f) => f.path));
        for (const q of quiet) expect(seen.has(q) || ignoredBy(rules, q)).toBe(true);
        // Withdrawn is exactly the sets lying wholly in quiet fields; one real field keeps a set counted.
        const real = s.filter((x) => x.fields.some((f) => !quiet.has(f)));
        expect(withdrawable(s, quiet)).toBe(counted(s) - counted(real));
        for (const x of s) if (x.fields.some((f) => !seen.has(f) && !ignoredBy(rules, f))) expect(withdrawable([x], quiet)).toBe(0);
      }),
      { numRuns: 2_000, seed: 16 },
    );
  });

  it('never takes for noise a field with evidence that the new path differs there more often than two old runs do', () => {
    fc.assert(
      fc.property(evidence, sets, fc.integer({ min: 0, max: 400 }), (ev, s, extra) => {
        const compared = counted(s) + extra;
        for (const j of judgeFields(ev, s, compared, new PathSet(), TEST).values()) {
          if (!j.noise) continue;
          expect(j.path.startsWith('$')).toBe(true);
          expect(ev.fields.find((f) => f.path === j.path)!.differing).toBeGreaterThanOrEqual(NOISE_MIN_DIFFERING);
          const learned = ev.fields.find((f) => f.path === j.path)!;
          expect(differsBeyondNoise(j.count, compared, learned.differing, Math.max(ev.runs ?? 0, learned.differing), TEST)).toBe(false);
        }
      }),
      { numRuns: 2_000, seed: 17 },
    );
  });

  it('adding a real difference to a mismatch never lets it be withdrawn, whatever else it differs in', () => {
    fc.assert(
      fc.property(evidence, sets, (ev, s) => {
        const withReal = s.map((x) => ({ ...x, fields: [...x.fields, '$.status'] }));
        const quiet = quietFields(judgeFields(ev, withReal, counted(withReal), new PathSet(), TEST));
        expect(withdrawable(withReal, quiet)).toBe(0);
      }),
      { numRuns: 1_000, seed: 18 },
    );
  });

  it('takes a per-run timestamp for noise and a flaky field with a real difference for a difference', () => {
    const ev: NoiseEvidence = {
      runs: 1200,
      fields: [
        { path: '$.handledAt', differing: 1200, firstSeenAt: 0, learnedAt: 1, learnedFrom: 2 },
        { path: '$.type', differing: 60, firstSeenAt: 0, learnedAt: 1, learnedFrom: 40 },
      ],
    };
    const window: FieldSet[] = [
      { fields: ['$.handledAt'], count: 940 },
      { fields: ['$.handledAt', '$.type'], count: 260 },
    ];
    const judged = judgeFields(ev, window, 1200, new PathSet(), TEST);
    expect(judged.get('$.handledAt')).toMatchObject({ noise: true, oldRate: 1, newRate: 1 });
    expect(judged.get('$.type')).toMatchObject({ noise: false, oldRate: 0.05 });
    expect(withdrawable(window, quietFields(judged))).toBe(940);
    // Had the new path differed in $.type only as often as old runs do, it would be noise.
    const honest = judgeFields(ev, [{ fields: ['$.handledAt', '$.type'], count: 60 }, { fields: ['$.handledAt'], count: 1140 }], 1200, new PathSet(), TEST);
    expect(honest.get('$.type')!.noise).toBe(true);
    // With few double runs nothing is evidence yet: a field seen to differ between old runs stays noise.
    const early = judgeFields({ runs: 30, fields: [{ ...ev.fields[1]!, differing: 2 }] }, [{ fields: ['$.type'], count: 7 }], 30, new PathSet(), TEST);
    expect(early.get('$.type')!.noise).toBe(true);
    // Noise for want of evidence, not by evidence: advancing waits on it (a verdict does not).
    expect(early.get('$.type')!.unsettled).toBe(true);
    expect(honest.get('$.type')!.unsettled).toBe(false);
    expect(judged.get('$.handledAt')!.unsettled).toBe(false);
  });

  it('settles a field as noise only once the new path cannot differ there much more often than two old runs', () => {
    // A type mislabelled in 1 message of 6, in a field two old runs differ in 1 time in 20.
    const ev = (runs: number) => ({ runs, fields: [{ path: '$.type', differing: Math.round(runs / 20), firstSeenAt: 0, learnedAt: 1, learnedFrom: 2 }] });
    const window = (n: number): FieldSet[] => [{ fields: ['$.type'], count: Math.round(n * (1 / 6 + 1 / 20)) }];
    const early = judgeFields(ev(200), window(200), 200, new PathSet(), TEST).get('$.type')!;
    expect(early).toMatchObject({ noise: true, unsettled: true });
    // Later the evidence says it is a difference: no longer noise at all.
    const late = judgeFields(ev(2000), window(2000), 2000, new PathSet(), TEST).get('$.type')!;
    expect(late).toMatchObject({ noise: false, unsettled: false });
    // Unsettled only ever qualifies noise, and a field whose new path differs no more often than its old runs settles.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 3000 }), (count, compared, differing, runs) => {
        const k = Math.min(count, compared);
        const d = Math.min(differing, runs);
        if (k / compared <= d / runs && compared >= runs) expect(noiseUnsettled(k, compared, d, runs, TEST)).toBe(false);
        const j = judgeFields({ runs, fields: [{ path: '$.x', differing: Math.max(d, NOISE_MIN_DIFFERING), firstSeenAt: 0, learnedAt: 1, learnedFrom: 2 }] }, k === 0 ? [] : [{ fields: ['$.x'], count: k }], compared, new PathSet(), TEST).get('$.x')!;
        if (j.unsettled) expect(j.noise).toBe(true);
      }),
    );
  });

  it('says how many double runs are in while fewer than 20, and nothing when no SDK learns noise', () => {
    expect(learningProgress({ runs: null, fields: [] })).toBeNull();
    expect(learningProgress({ runs: 0, fields: [] })).toEqual({ runs: 0, needed: NOISE_MIN_RUNS });
    expect(learningProgress({ runs: NOISE_MIN_RUNS - 1, fields: [] })).toEqual({ runs: NOISE_MIN_RUNS - 1, needed: NOISE_MIN_RUNS });
    expect(learningProgress({ runs: NOISE_MIN_RUNS, fields: [] })).toBeNull();
  });

  it('ignores a field inside an ignored one, never a pseudo-field', () => {
    const rules = new PathSet(['$.meta', '$.items[*].at']);
    expect(ignoredBy(rules, '$.meta.requestId')).toBe(true);
    expect(ignoredBy(rules, '$.items[*].at')).toBe(true);
    expect(ignoredBy(rules, '$.items[*].id')).toBe(false);
    expect(ignoredBy(rules, '(error)')).toBe(false);
  });
});
