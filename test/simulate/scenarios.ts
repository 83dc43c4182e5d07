/**
 * The cohorts the simulator runs: healthy ones drawn across traffic, failure
 * rates, noise, bursts and lagging reporters (a share of them exactly at
 * their tolerance, the hardest case for a false revert), and regressions at
 * 100 msg/s with a 50 ms handler, fresh or after a healthy minute.
 */
import type { Guards } from '../../server/rollouts/model.ts';
import { simulateCohort, type Outcome, type Scenario } from './cohort.ts';
import { logUniform, seeded, type Random } from './random.ts';

export function healthyScenario(random: Random, seconds: number, guards: Partial<Guards>): Scenario {
  const kind = random() < 0.7 ? 'band' : 'shadow';
  const rate = logUniform(random, 1, 10_000);
  const baseFailure = random() < 0.3 ? 0 : random() * 0.05;
  const atTolerance = random() < 0.5;
  const lossTolerance = guards.maxLossRate ?? 0.001;
  const failureTolerance = guards.maxFailureRateDelta ?? 0.01;
  const mismatchTolerance = guards.maxMismatchRate ?? 0.01;
  // Without learning, outputs are deterministic (or their noise is in ignore rules, which is the same here).
  const learn = random() < 0.8;
  const typeOld = !learn || random() < 0.5 ? 0 : random() * 0.03;
  const healthy = {
    loss: atTolerance ? lossTolerance : 0,
    newFailure: atTolerance ? baseFailure + failureTolerance : baseFailure,
    latencyRatio: 0.8 + random() * 0.6,
    typeNew: atTolerance ? typeOld + mismatchTolerance : typeOld,
  };
  return {
    kind,
    rate,
    baselineRate: rate * logUniform(random, 0.5, 20),
    baseFailure,
    ...healthy,
    healthy,
    noise: { timestamp: learn && random() < 0.5 ? random() : 0, traceId: learn && random() < 0.3, typeOld, typeNew: healthy.typeNew, learn },
    latencyMs: logUniform(random, 2, 200),
    bursty: random() < 0.5,
    stalls: random() < 0.3,
    windowSeconds: [60, 120, 600][Math.floor(random() * 3)]!,
    seconds,
    regressionAt: Number.POSITIVE_INFINITY,
    guards,
    fixedToo: true,
    atTolerance,
  };
}

export interface Regression {
  name: string;
  target?: string;
  apply(s: Scenario): Scenario;
}

/** 100 msg/s into the cohort and 900 into the baseline (a 10 % step), a 50 ms handler, 2 % baseline failures, outputs with a timestamp that is noise. */
export function regressionBase(seconds: number, regressionAt: number, kind: 'band' | 'shadow'): Scenario {
  const healthy = { loss: 0, newFailure: 0.02, latencyRatio: 1, typeNew: 0 };
  return {
    kind, rate: 100, baselineRate: 900, baseFailure: 0.02, ...healthy, healthy,
    noise: { timestamp: 0.3, traceId: false, typeOld: 0.01, typeNew: 0.01, learn: true },
    latencyMs: 50, bursty: false, stalls: false, windowSeconds: 600, seconds, regressionAt, fixedToo: true,
  };
}

export const REGRESSIONS: Regression[] = [
  { name: 'loss 0.5 %', apply: (s) => ({ ...s, loss: 0.005 }) },
  { name: 'loss 2 %', apply: (s) => ({ ...s, loss: 0.02 }) },
  { name: 'loss 10 %', target: '≤ 2 s', apply: (s) => ({ ...s, loss: 0.1 }) },
  { name: 'failure +1 pp (at tolerance)', apply: (s) => ({ ...s, newFailure: 0.03 }) },
  { name: 'failure +2 pp', apply: (s) => ({ ...s, newFailure: 0.04 }) },
  { name: 'failure +5 pp', target: '≤ 10 s', apply: (s) => ({ ...s, newFailure: 0.07 }) },
  { name: 'mismatch 1 % (at tolerance)', apply: (s) => ({ ...s, kind: 'shadow', noise: { ...s.noise, typeNew: 0.02 }, healthy: { ...s.healthy, typeNew: 0.01 } }) },
  { name: 'mismatch 5 %', apply: (s) => ({ ...s, kind: 'shadow', noise: { ...s.noise, typeNew: 0.06 }, healthy: { ...s.healthy, typeNew: 0.01 } }) },
  { name: 'latency p95 ×1.5 (within ×2)', apply: (s) => ({ ...s, latencyRatio: 1.5 }) },
  { name: 'latency p95 ×3', target: '≤ 15 s', apply: (s) => ({ ...s, latencyRatio: 3 }) },
];

export interface RegressionResult {
  name: string;
  target: string | undefined;
  runs: number;
  /** Seconds from the first bad event (or the step's start) to the revert: median and max; reverted runs. */
  seconds: number[];
  messages: number[];
  fixedSeconds: number[];
  guards: string[];
}

/** Runs each regression `runs` times from `seed`, starting at `regressionAt` seconds into the step. */
export function runRegression(r: Regression, options: { runs: number; seed: number; seconds: number; regressionAt: number }): RegressionResult {
  const out: RegressionResult = { name: r.name, target: r.target, runs: options.runs, seconds: [], messages: [], fixedSeconds: [], guards: [] };
  for (let i = 0; i < options.runs; i++) {
    const random = seeded(options.seed * 7919 + i);
    const scenario = r.apply(regressionBase(options.seconds, options.regressionAt, 'band'));
    const o: Outcome = simulateCohort(scenario, random);
    const start = scenario.loss > 0 && o.firstBadAt !== null ? o.firstBadAt : options.regressionAt;
    if (o.revertedAt !== null) {
      out.seconds.push(o.revertedAt - start);
      out.messages.push(Math.round((o.revertedAt - options.regressionAt) * scenario.rate));
      out.guards.push(o.guard!);
    }
    if (o.fixedAt !== null) out.fixedSeconds.push(o.fixedAt - start);
  }
  return out;
}
