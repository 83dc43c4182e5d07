/**
 * A short run of `npm run simulate`: the same simulator and the server's
 * own decision code, fewer cohorts, and an alpha large enough for a few
 * hundred cohorts to test it (the full run proves 0.001 over 10,000).
 */
import { describe, expect, it } from 'vitest';
import { REGRESSIONS, runRegression } from './scenarios.ts';
import { binomialInterval, runHealthy } from './run.ts';

describe('the simulator', () => {
  it('reverts healthy cohorts at most alpha of the time, across traffic, baseline failures, noise, bursts and lagging reporters', async () => {
    const alpha = 0.05;
    const cohorts = 300;
    const result = await runHealthy({ cohorts, seconds: 300, seed: 7, guards: { alpha }, workers: 1 });
    // The 99.9th percentile of Binomial(300, 0.05) is 27: a rule at exactly alpha passes 999 times in 1,000.
    expect(result.falseReverts, `seeds reverted: ${result.revertedSeeds.join(', ')}; ${result.examples.join(' | ')}`).toBeLessThanOrEqual(27);
    expect(binomialInterval(result.falseReverts, cohorts)[0]).toBeLessThanOrEqual(alpha);
    // The rule before, on the same streams, reverts far more: it is what the change is for.
    expect(result.fixedFalseReverts).toBeGreaterThan(result.falseReverts + 30);
  }, 120_000);

  it('reverts each regression beyond its tolerance, within the targets, and none within it', () => {
    const run = (name: string) => runRegression(REGRESSIONS.find((r) => r.name === name)!, { runs: 5, seed: 3, seconds: 120, regressionAt: 0 });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const loss = run('loss 10 %');
    expect(loss.seconds).toHaveLength(5);
    expect(median(loss.seconds)).toBeLessThanOrEqual(2);
    const latency = run('latency p95 ×3');
    expect(latency.seconds).toHaveLength(5);
    expect(median(latency.seconds)).toBeLessThanOrEqual(15);
    const failure = run('failure +5 pp');
    expect(failure.guards.every((g) => g === 'failure')).toBe(true);
    expect(median(failure.seconds)).toBeLessThanOrEqual(20);
    for (const within of ['failure +1 pp (at tolerance)', 'latency p95 ×1.5 (within ×2)']) expect(run(within).seconds).toEqual([]);
  }, 120_000);
});
