/**
 * One simulated cohort, judged by the server's own decision code. Traffic is
 * drawn second by second (bursty arrivals, losses, failures, comparisons and
 * their differing fields, handler timings for both paths); every controller
 * tick (250 ms) the figures the server would have read are summed over the
 * window `windowOf` chooses, with what reporters have flushed so far and only
 * messages due by their horizon, and handed to `assembleHealth` (the pure
 * half of a controller pass: plans, rates, verdicts, breaches) and
 * `dueMsOf` (when a message is due). The same figures, over the sliding
 * window and after the fixed grace, also go to the fixed-threshold rule that
 * came before (fixed-rule.ts), so both judge the very same stream.
 */
import { latencySlot, PathSet, SLOTS, slotUpperMs } from '@rollcall/protocol';
import { assembleHealth, NO_EXTRAS, planCohorts, windowOf } from '../../server/health/measure.ts';
import type { LatencyRow } from '../../server/health/store.ts';
import { judgeFields, quietFields, withdrawable, type FieldSet } from '../../server/health/noise.ts';
import { dueMsOf } from '../../server/health/settle.ts';
import { fieldTestOf, type Figures } from '../../server/health/guards.ts';
import { DEFAULT_GUARDS, type Guards, type RolloutAggregate } from '../../server/rollouts/model.ts';
import { fixedRuleBreach } from './fixed-rule.ts';
import { binomial, poisson, type Random } from './random.ts';

export interface Scenario {
  kind: 'band' | 'shadow';
  /** Messages per second into the cohort, and into the baseline. */
  rate: number;
  baselineRate: number;
  baseFailure: number;
  /** The new path's rates once `regressionAt` has passed (before it, the healthy ones). */
  loss: number;
  newFailure: number;
  latencyRatio: number;
  /** Shadow outputs: a timestamp that differs between any two runs with this chance, a trace id that always does, a type field flaky in old runs and (wrongly) in new ones. */
  noise: { timestamp: number; traceId: boolean; typeOld: number; typeNew: number; learn: boolean };
  /** Old path's median handler time (ms). */
  latencyMs: number;
  bursty: boolean;
  /** Reporters that stall now and then (the horizon lags). */
  stalls: boolean;
  windowSeconds: number;
  seconds: number;
  /** Second of the step at which the new path turns bad (Infinity: never). */
  regressionAt: number;
  healthy: { loss: number; newFailure: number; latencyRatio: number; typeNew: number };
  guards?: Partial<Guards>;
  /** Keep going after the revert until the fixed-threshold rule has decided too (healthy runs: to count both). */
  fixedToo?: boolean;
  /** Healthy at exactly its tolerances (not below them): the hardest case for a false revert. */
  atTolerance?: boolean;
}

export interface Outcome {
  /** Seconds from the step's start to the revert, or null. */
  revertedAt: number | null;
  guard: string | null;
  reason: string | null;
  /** The same for the fixed-threshold rule. */
  fixedAt: number | null;
  fixedGuard: string | null;
  /** When the first bad event happened (the first drop, failure beyond the healthy rate, …), for detection times. */
  firstBadAt: number | null;
  /** Messages the cohort had received by the revert. */
  messagesAtRevert: number | null;
}

const T0 = 1_800_000_000_000;
const TICK_MS = 250;
const FLUSH_MS = 1_000;
const DOUBLE_RUN_SHARE = 0.1;

/** Per-second counters, kept as prefix sums for window sums in O(1). */
class Series {
  readonly prefix: Float64Array;
  constructor(seconds: number) {
    this.prefix = new Float64Array(seconds + 2);
  }
  set(second: number, value: number): void {
    this.prefix[second + 1] = this.prefix[second]! + value;
  }
  /** Sum of seconds [from, to] (clamped to what has been set). */
  sum(from: number, to: number, filled: number): number {
    const a = Math.max(0, from);
    const b = Math.min(to, filled - 1);
    return b < a ? 0 : this.prefix[b + 1]! - this.prefix[a]!;
  }
}

const KEYS = ['received', 'processed', 'failed', 'lost', 'compared', 'mismatched', 'ts', 'trace', 'type', 'tsOnly', 'traceOnly', 'typeOnly'] as const;
type Key = (typeof KEYS)[number];

/** Slot probabilities of a log-normal handler time with this median (σ 0.35). */
function slotWeights(medianMs: number): [number, number][] {
  const out: [number, number][] = [];
  const sigma = 0.35;
  const cdf = (ms: number) => 0.5 * (1 + erf((Math.log(ms) - Math.log(medianMs)) / (sigma * Math.SQRT2)));
  const lo = latencySlot(medianMs * Math.exp(-5 * sigma));
  const hi = Math.min(SLOTS - 1, latencySlot(medianMs * Math.exp(5 * sigma)));
  for (let s = lo; s <= hi; s++) out.push([s, cdf(slotUpperMs(s)) - cdf(slotUpperMs(s - 1))]);
  return out;
}

function erf(x: number): number {
  // Abramowitz and Stegun 7.1.26.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

export function simulateCohort(s: Scenario, random: Random): Outcome {
  const guards: Guards = { ...DEFAULT_GUARDS, windowSeconds: s.windowSeconds, ...s.guards };
  const seconds = s.seconds;
  const cohort = Object.fromEntries(KEYS.map((k) => [k, new Series(seconds)])) as Record<Key, Series>;
  const base = { received: new Series(seconds), processed: new Series(seconds), failed: new Series(seconds) };
  // Latency: per minute, per slot; the cohort's observed path and the reference (baseline old, or the old run in shadow).
  const minutes = Math.ceil(seconds / 60) + 1;
  const observedHist = Array.from({ length: minutes }, () => new Map<number, number>());
  const referenceHist = Array.from({ length: minutes }, () => new Map<number, number>());
  const oldWeights = slotWeights(s.latencyMs);
  const weightsFor = new Map<number, [number, number][]>();
  const newWeights = (ratio: number) => weightsFor.get(ratio) ?? weightsFor.set(ratio, slotWeights(s.latencyMs * ratio)).get(ratio)!;
  let runs = 0;
  const differing = { ts: 0, trace: 0, type: 0 };

  const rollout = {
    id: 1, key: 'sim', description: '', salt: 'sim', state: 'running' as const, stateReason: null,
    plan: s.kind === 'band' ? [{ live: 10 }] : [{ live: 0, shadow: 10 }], guards, onBreach: 'revert-cohort' as const, autoAdvance: false, compare: null,
    step: 0, stepEnteredAt: T0, measuredSince: T0, completedAt: null, watchBreachedAt: null, version: 1, createdAt: T0, updatedAt: T0,
  };
  const aggregate: RolloutAggregate = {
    rollout,
    cohorts: s.kind === 'band' ? [{ name: 'c1', step: 0, fromBp: 0, toBp: 1000, status: 'active', createdAt: T0, activeSince: T0, revertedAt: null, revertKind: null, revertedBy: null, revertReason: null }] : [],
    pins: [],
  };
  const cohortName = s.kind === 'band' ? 'c1' : 'shadow';

  let burst = 1;
  let stallUntil = 0;
  let stallFrom = 0;
  let firstBadAt: number | null = null;
  let fixed: { at: number; guard: string } | null = null;
  let revert: { at: number; guard: string; reason: string; messages: number } | null = null;
  let filled = 0;

  const drawLatency = (hist: Map<number, number>, weights: [number, number][], n: number) => {
    for (const [slot, w] of weights) {
      const k = poisson(random, n * w);
      if (k > 0) hist.set(slot, (hist.get(slot) ?? 0) + k);
    }
  };

  for (let sec = 0; sec < seconds; sec++) {
    // Traffic of this second.
    if (s.bursty) burst = burst > 1 ? (random() < 0.2 ? 1 : burst) : random() < 0.04 ? 3 + random() * 5 : 1;
    const bad = sec >= s.regressionAt;
    const rates = bad ? s : { ...s, ...s.healthy, noise: { ...s.noise, typeNew: s.healthy.typeNew } };
    const scale = s.bursty ? 1 / 1.2 : 1;
    const n = poisson(random, s.rate * burst * scale);
    const lost = binomial(random, n, rates.loss);
    const failed = binomial(random, n - lost, rates.newFailure);
    cohort.received.set(sec, n);
    cohort.lost.set(sec, s.kind === 'band' ? lost : 0);
    cohort.failed.set(sec, s.kind === 'band' ? failed : 0);
    cohort.processed.set(sec, s.kind === 'band' ? n - lost - failed : n);
    const nb = poisson(random, s.baselineRate * scale);
    const fb = binomial(random, nb, s.baseFailure);
    base.received.set(sec, nb);
    base.failed.set(sec, fb);
    base.processed.set(sec, nb - fb);
    if (firstBadAt === null && bad && (lost > 0 || (failed > 0 && rates.newFailure > s.healthy.newFailure) || s.kind === 'shadow' || rates.latencyRatio !== s.healthy.latencyRatio)) firstBadAt = sec + (lost > 0 ? random() : 0);

    // Comparisons (shadow): which fields differ between old and new, and between two old runs.
    let compared = 0;
    let mismatched = 0;
    const sets = { ts: 0, trace: 0, type: 0, tsOnly: 0, traceOnly: 0, typeOnly: 0 };
    if (s.kind === 'shadow') {
      compared = n;
      const { timestamp, traceId, typeOld } = s.noise;
      const typeNew = rates.noise.typeNew;
      const ts = binomial(random, n, timestamp);
      const type = binomial(random, n, typeNew);
      sets.ts = ts;
      sets.type = type;
      sets.trace = traceId ? n : 0;
      // Fields differ independently: the messages differing in one field alone.
      sets.tsOnly = traceId ? 0 : binomial(random, ts, 1 - typeNew);
      sets.typeOnly = traceId ? 0 : binomial(random, type, 1 - timestamp);
      sets.traceOnly = traceId ? binomial(random, n, (1 - timestamp) * (1 - typeNew)) : 0;
      mismatched = traceId ? n : Math.round(n * (1 - (1 - timestamp) * (1 - typeNew)));
      if (s.noise.learn) {
        const r = binomial(random, n, DOUBLE_RUN_SHARE);
        runs += r;
        differing.ts += binomial(random, r, timestamp);
        differing.trace += traceId ? r : 0;
        differing.type += binomial(random, r, typeOld);
      }
      drawLatency(observedHist[Math.floor(sec / 60)]!, newWeights(rates.latencyRatio), n);
      drawLatency(referenceHist[Math.floor(sec / 60)]!, oldWeights, n);
    } else {
      drawLatency(observedHist[Math.floor(sec / 60)]!, newWeights(rates.latencyRatio), n - lost);
      drawLatency(referenceHist[Math.floor(sec / 60)]!, oldWeights, nb);
    }
    cohort.compared.set(sec, compared);
    cohort.mismatched.set(sec, mismatched);
    for (const k of ['ts', 'trace', 'type', 'tsOnly', 'traceOnly', 'typeOnly'] as const) cohort[k].set(sec, sets[k]);
    filled = sec + 1;

    // Reporters: every flush reports through its moment; a stall holds one reporter's watermark back.
    if (s.stalls && sec >= stallUntil && random() < 0.01) {
      stallFrom = sec;
      stallUntil = sec + 1 + Math.floor(random() * 20);
    }

    // The controller ticks every 250 ms, but what it reads changes only when reporters flush (each whole
    // second): judging at the first tick after each flush decides exactly when every tick would.
    {
      const now = T0 + (sec + 1) * FLUSH_MS + TICK_MS;
      // Counts reach the server at each whole-second flush: through `sec` once this second is over.
      const flushed = Math.floor((now - T0) / FLUSH_MS);
      const visible = Math.min(flushed, filled);
      const horizon = sec < stallUntil && s.stalls ? T0 + stallFrom * 1000 : T0 + flushed * FLUSH_MS;
      const windowStart = windowOf(aggregate, { now }).from;
      const fromMinute = Math.floor((windowStart - T0) / 60_000);
      const latencyRows: LatencyRow[] = [];
      for (let m = Math.max(0, fromMinute); m <= Math.floor((visible - 1) / 60) && m < minutes; m++) {
        for (const [slot, count] of referenceHist[m]!) latencyRows.push({ cohort: s.kind === 'band' ? 'baseline' : 'shadow', path: s.kind === 'band' ? 'old' : 'shadow', role: 'authoritative', slot, n: count });
        for (const [slot, count] of observedHist[m]!)
          latencyRows.push(s.kind === 'band' ? { cohort: 'c1', path: 'new', role: 'authoritative', slot, n: count } : { cohort: 'shadow', path: 'shadow', role: 'candidate', slot, n: count });
      }
      const dueMs = dueMsOf(guards, latencyRows);
      const window = windowOf(aggregate, { now, horizon, dueMs });
      const plans = planCohorts(aggregate, window, new Set(s.kind === 'shadow' ? ['shadow'] : []));
      const last = visible - 1;
      /** Figures since second `from`, due through second `due`, as the server's reads would sum them. */
      const figuresFor = (name: string, from: number, due: number): Figures => {
        if (name === 'baseline') {
          return { received: base.received.sum(from, last, filled), due: base.received.sum(from, due, filled), processed: base.processed.sum(from, last, filled), failed: base.failed.sum(from, last, filled), lost: 0, late: 0, pending: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 };
        }
        // A second's losses are judged once the whole second is due.
        const lostSum = cohort.lost.sum(from, due - 1, filled);
        return {
          received: cohort.received.sum(from, last, filled), due: cohort.received.sum(from, due, filled), processed: cohort.processed.sum(from, last, filled), failed: cohort.failed.sum(from, last, filled),
          lost: lostSum, late: 0, pending: lostSum, compared: cohort.compared.sum(from, last, filled), mismatched: cohort.mismatched.sum(from, last, filled), skipped: 0, dropped: 0,
        };
      };
      const field = (k: Key, from: number) => cohort[k].sum(from, last, filled);
      const setsFrom = (from: number): FieldSet[] =>
        s.kind !== 'shadow'
          ? []
          : s.noise.traceId
            ? [{ fields: ['$.traceId'], count: field('traceOnly', from) }, { fields: ['$.handledAt', '$.traceId', '$.type'], count: Math.max(0, field('mismatched', from) - field('traceOnly', from)) }]
            : [{ fields: ['$.handledAt'], count: field('tsOnly', from) }, { fields: ['$.type'], count: field('typeOnly', from) }, { fields: ['$.handledAt', '$.type'], count: Math.max(0, field('mismatched', from) - field('tsOnly', from) - field('typeOnly', from)) }];
      const learned = (path: string) => (path === '$.handledAt' ? differing.ts : path === '$.type' ? differing.type : differing.trace);
      const evidenceOf = (paths: string[]) => ({ runs: s.noise.learn ? runs : null, fields: paths.filter((p) => learned(p) > 0).map((p) => ({ path: p, differing: learned(p), firstSeenAt: T0, learnedAt: learned(p) >= 2 ? T0 : null, learnedFrom: null })) });
      const paths = ['$.handledAt', '$.type', ...(s.noise.traceId ? ['$.traceId'] : [])];

      if (revert === null) {
        const dueSecond = Math.floor((window.dueBefore - T0) / 1000);
        const sinceOf = (since: number) => Math.ceil((since - T0) / 1000);
        const figures = plans.map((p) => figuresFor(p.name, sinceOf(p.since), dueSecond));
        const plan = plans.findIndex((p) => p.name === cohortName);
        const since = sinceOf(plans[plan]!.since);
        const sets = setsFrom(since);
        const counts = [{ path: '$.handledAt', count: field('ts', since) }, { path: '$.type', count: field('type', since) }, { path: '$.traceId', count: s.noise.traceId ? field('trace', since) : 0 }].filter((f) => s.kind === 'shadow' && f.count > 0);
        // Withdrawal of mismatches lying wholly in noise, by the server's own rules.
        let withdrawn = 0;
        let unsettled: string[] = [];
        if (figures[plan]!.mismatched > 0) {
          const judged = judgeFields(evidenceOf(paths), sets, figures[plan]!.compared, new PathSet(), fieldTestOf(guards));
          const quiet = quietFields(judged);
          unsettled = [...judged.values()].filter((j) => j.unsettled).map((j) => j.path);
          withdrawn = Math.min(figures[plan]!.mismatched, withdrawable(sets, quiet));
          figures[plan]!.mismatched -= withdrawn;
        }
        const health = assembleHealth(aggregate, window, plans, figures, latencyRows, NO_EXTRAS, {
          learning: null,
          unsettled,
          withdrawn: plans.map((_, i) => (i === plan ? withdrawn : 0)),
          runs: s.noise.learn ? runs : null,
          fields: plans.map((_, i) => (i === plan ? counts.map((f) => ({ ...f, differing: learned(f.path), ignored: false })) : [])),
        });
        if (health.breach !== null) revert = { at: (now - T0) / 1000, guard: health.breach.guard, reason: health.breach.reason, messages: figures[plan]!.received };
      }

      if (fixed === null) {
        // The rule before: a window sliding over the last windowSeconds, due after the whole grace.
        const from = Math.max(0, Math.ceil((now - s.windowSeconds * 1000 - T0) / 1000));
        const due = Math.floor((horizon - guards.graceSeconds * 1000 - T0) / 1000);
        const guard = fixedRuleBreach(s.kind, figuresFor(cohortName, from, due), figuresFor('baseline', from, due), guards, evidenceOf(paths), setsFrom(from));
        if (guard !== null) fixed = { at: (now - T0) / 1000, guard };
      }
      if (revert !== null && (fixed !== null || !s.fixedToo)) return outcome();
    }
  }
  return outcome();

  function outcome(): Outcome {
    return { revertedAt: revert?.at ?? null, guard: revert?.guard ?? null, reason: revert?.reason ?? null, fixedAt: fixed?.at ?? null, fixedGuard: fixed?.guard ?? null, firstBadAt, messagesAtRevert: revert?.messages ?? null };
  }
}

