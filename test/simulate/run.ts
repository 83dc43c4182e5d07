/**
 * The simulator's two measurements, callable from the command line and from
 * the test: false reverts over many healthy cohorts (split over worker
 * threads), and time to revert for each injected regression.
 */
import { Worker } from 'node:worker_threads';
import { simulateCohort } from './cohort.ts';
import { seeded } from './random.ts';
import { healthyScenario, REGRESSIONS, runRegression, type RegressionResult } from './scenarios.ts';
import type { Guards } from '../../server/rollouts/model.ts';

export interface HealthyOptions {
  cohorts: number;
  seconds: number;
  seed: number;
  guards: Partial<Guards>;
  workers: number;
  onProgress?: (done: number) => void;
}

export interface HealthyResult {
  cohorts: number;
  falseReverts: number;
  fixedFalseReverts: number;
  /** Of the cohorts, those at exactly their tolerances, and the false reverts of each rule among them. */
  atTolerance: { cohorts: number; falseReverts: number; fixedFalseReverts: number };
  /** Guard → count, for the reverts that happened. */
  byGuard: Record<string, number>;
  fixedByGuard: Record<string, number>;
  /** The seeds of cohorts reverted, so one can be replayed. */
  revertedSeeds: number[];
  examples: string[];
}

/** Healthy cohorts `from`..`to` (exclusive) of a seed: the work of one thread. */
export function healthyChunk(from: number, to: number, options: Omit<HealthyOptions, 'workers' | 'cohorts'>): HealthyResult {
  const out: HealthyResult = { cohorts: to - from, falseReverts: 0, fixedFalseReverts: 0, atTolerance: { cohorts: 0, falseReverts: 0, fixedFalseReverts: 0 }, byGuard: {}, fixedByGuard: {}, revertedSeeds: [], examples: [] };
  for (let i = from; i < to; i++) {
    const seed = options.seed * 1_000_003 + i;
    const random = seeded(seed);
    const scenario = healthyScenario(random, options.seconds, options.guards);
    const o = simulateCohort(scenario, random);
    if (scenario.atTolerance === true) {
      out.atTolerance.cohorts++;
      if (o.revertedAt !== null) out.atTolerance.falseReverts++;
      if (o.fixedAt !== null) out.atTolerance.fixedFalseReverts++;
    }
    if (o.revertedAt !== null) {
      out.falseReverts++;
      out.byGuard[o.guard!] = (out.byGuard[o.guard!] ?? 0) + 1;
      out.revertedSeeds.push(seed);
      if (out.examples.length < 5) out.examples.push(`seed ${seed}: ${o.reason}`);
    }
    if (o.fixedAt !== null) {
      out.fixedFalseReverts++;
      out.fixedByGuard[o.fixedGuard!] = (out.fixedByGuard[o.fixedGuard!] ?? 0) + 1;
    }
    if ((i - from) % 50 === 49) options.onProgress?.(50);
  }
  options.onProgress?.((to - from) % 50);
  return out;
}

function merge(a: HealthyResult, b: HealthyResult): HealthyResult {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    for (const [k, v] of Object.entries(y)) x[k] = (x[k] ?? 0) + v;
    return x;
  };
  return {
    cohorts: a.cohorts + b.cohorts,
    falseReverts: a.falseReverts + b.falseReverts,
    fixedFalseReverts: a.fixedFalseReverts + b.fixedFalseReverts,
    atTolerance: { cohorts: a.atTolerance.cohorts + b.atTolerance.cohorts, falseReverts: a.atTolerance.falseReverts + b.atTolerance.falseReverts, fixedFalseReverts: a.atTolerance.fixedFalseReverts + b.atTolerance.fixedFalseReverts },
    byGuard: add({ ...a.byGuard }, b.byGuard),
    fixedByGuard: add({ ...a.fixedByGuard }, b.fixedByGuard),
    revertedSeeds: [...a.revertedSeeds, ...b.revertedSeeds],
    examples: [...a.examples, ...b.examples].slice(0, 5),
  };
}

const TSX_API = import.meta.resolve('tsx/esm/api');
const WORKER = new URL('./worker.ts', import.meta.url).href;

/** Runs the healthy cohorts over `workers` threads (in this one with `workers: 1`). */
export async function runHealthy(options: HealthyOptions): Promise<HealthyResult> {
  if (options.workers <= 1) return healthyChunk(0, options.cohorts, options);
  const per = Math.ceil(options.cohorts / options.workers);
  const { onProgress, workers, cohorts, ...rest } = options;
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = w * per;
      const to = Math.min(cohorts, from + per);
      return new Promise<HealthyResult>((resolve, reject) => {
        // A worker cannot load TypeScript by itself: it registers tsx first, then imports the thread's module.
        const boot = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER)}); })`;
        const worker = new Worker(boot, { eval: true, workerData: { from, to, options: rest } });
        worker.on('message', (m: { progress?: number; result?: HealthyResult }) => {
          if (m.progress !== undefined) onProgress?.(m.progress);
          if (m.result !== undefined) resolve(m.result);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => code !== 0 && reject(new Error(`simulator worker exited with ${code}`)));
      });
    }),
  );
  return parts.reduce(merge);
}

export function runRegressions(options: { runs: number; seed: number; seconds: number; regressionAt: number }): RegressionResult[] {
  return REGRESSIONS.map((r) => runRegression(r, options));
}

/** The exact (Clopper-Pearson) 95 % interval for k events in n trials. */
export function binomialInterval(k: number, n: number): [number, number] {
  const cdf = (p: number, upTo: number) => {
    // P(X ≤ upTo) for X ~ Binomial(n, p), summed in log space.
    let sum = 0;
    let logTerm = n * Math.log1p(-p);
    for (let i = 0; i <= upTo; i++) {
      sum += Math.exp(logTerm);
      logTerm += Math.log((n - i) / (i + 1)) + Math.log(p) - Math.log1p(-p);
    }
    return sum;
  };
  const solve = (f: (p: number) => number) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  const lower = k === 0 ? 0 : solve((p) => 1 - cdf(p, k - 1) - 0.025 < 0 ? 1 : -1);
  const upper = k === n ? 1 : solve((p) => cdf(p, k) - 0.025);
  return [lower, upper];
}
