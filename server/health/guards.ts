/**
 * The guards, as a pure function of a cohort's figures: loss, failure over
 * the baseline's, mismatches beyond the old path's own noise, latency against
 * the old path's, and dropped events. Each rate guard keeps its tolerance
 * (`maxLossRate`, …) and is judged by an anytime-valid test (evidence.ts):
 * a guard breaches when the evidence that the cohort is worse than tolerated
 * reaches 1/α for its share of `guards.alpha`, so checking on every tick
 * never raises the chance of reverting a healthy cohort above α, and a large
 * effect is judged after a handful of messages. `alpha` is split evenly over
 * the four judged guards, and within a guard over the windows a step is
 * judged in (`epochShare`). Dropped events breach at once (the accounting
 * itself is incomplete), and so does the hard stop: every due message lost.
 */
import { quantile, slotUpperMs, type Counts, type DropReason } from '@rollcall/protocol';
import { DEFAULT_GUARDS, type Guards } from '../rollouts/model.ts';
import { epochShare, logEvidence, moreNeeded, upperBound } from './evidence.ts';

export const JUDGED_GUARDS = ['loss', 'failure', 'mismatch', 'latency'] as const;
export type GuardName = (typeof JUDGED_GUARDS)[number] | 'dropped';

/** The hard stop: this many due messages, every one of them lost. */
export const HARD_STOP_DUE = 10;
/** The mismatch guard judges at most this many fields, each at this share of its alpha. */
export const MAX_FIELDS = 16;
/** The latency guard compares this quantile. */
const LATENCY_QUANTILE = 0.95;

/** A cohort's counters, with what the ledger adds: due (received past the grace), lost, late. */
export interface Figures extends Counts {
  due: number;
  lost: number;
  late: number;
  /** Of `lost`, those not replayed yet. */
  pending: number;
  /** `dropped` by reason, read only when something was dropped. */
  droppedBy?: Partial<Record<DropReason, number>>;
}

export interface Rates {
  /** lost / due. */
  loss: number | null;
  /** failed / (processed + failed). */
  failure: number | null;
  /** failure minus the baseline cohort's observed failure rate (null while the baseline has settled nothing). */
  failureDelta: number | null;
  /** mismatched / compared. */
  mismatch: number | null;
  /** The cohort's p95 latency over its reference's (the baseline, or the old run of the same messages in shadow). */
  latencyRatio: number | null;
}

/** What one guard's test says now. */
export interface Verdict {
  guard: (typeof JUDGED_GUARDS)[number];
  /** The rate seen (loss, failure, mismatch of the worst field) or the p95 ratio (latency); null with no data. */
  estimate: number | null;
  /** The rate the test holds the cohort against: the tolerance, plus what the baseline may be (failure) or noise explains (mismatch). */
  tolerated: number;
  /** The tolerance as configured. */
  tolerance: number;
  /** Messages the test has seen. */
  sample: number;
  /** The e-value: how many times more likely the counts are if the cohort is worse than tolerated (capped at 1e300). */
  evidence: number;
  /** The e-value a breach needs: 1/α for this guard's share of alpha. */
  needed: number;
  /** Roughly how many more messages at the rates seen a verdict needs; null when the rates seen are within the tolerance. */
  more: number | null;
  breached: boolean;
  /** One line: what was compared with what. */
  detail: string;
}

export interface Breach {
  cohort: string;
  guard: GuardName;
  value: number;
  threshold: number;
  /** The sample the rate was measured on. */
  sample: number;
  reason: string;
  /** The e-value reached and the one needed (absent for dropped events and the hard stop). */
  evidence?: { value: number; needed: number };
}

/** The per-field view the mismatch guard needs: in how many compared messages the new path differs there, and in how many double runs two old runs did. */
export interface FieldCount {
  path: string;
  count: number;
  /** Double runs in which two old runs differed here (0 when never seen to). */
  differing: number;
  /** Ignored by the rollout's compare rules. */
  ignored: boolean;
}

export interface GuardInput {
  figures: Figures;
  /** The baseline cohort's figures over the same window (undefined for the baseline itself). */
  baseline?: Figures | undefined;
  /** Double runs of the old path reported for the rollout (null: nobody learns noise) and the cohort's mismatches by field. */
  noise?: { runs: number | null; fields: FieldCount[] } | undefined;
  /** Latency histograms (slot → count): the cohort's path, and what it is held against. */
  latency?: { observed: ReadonlyMap<number, number>; reference: ReadonlyMap<number, number> } | undefined;
  /** Which window of the step this is (0 for the first): its share of alpha. */
  epoch: number;
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
/** A rate as a percentage, with three decimals below 1 %. */
export const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 1)}%`;
const CAP = 1e300;
const eValue = (log: number) => (log >= Math.log(CAP) ? CAP : Math.exp(log));

/** The guards' alpha (rollouts stored before it existed have none: the default). */
export const alphaOf = (guards: Guards) => guards.alpha ?? DEFAULT_GUARDS.alpha;
/** The latency tolerance, 0 when the latency guard is off. */
export const latencyRatioOf = (guards: Guards) => guards.maxLatencyRatio ?? DEFAULT_GUARDS.maxLatencyRatio;

function total(histogram: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const c of histogram.values()) n += c;
  return n;
}

export function ratesOf(figures: Figures, baseline: Figures | undefined, latency?: GuardInput['latency']): Rates {
  const failure = ratio(figures.failed, figures.processed + figures.failed);
  const baselineFailure = baseline === undefined ? null : ratio(baseline.failed, baseline.processed + baseline.failed);
  const observed = latency === undefined ? null : quantile(latency.observed, LATENCY_QUANTILE);
  const reference = latency === undefined ? null : quantile(latency.reference, LATENCY_QUANTILE);
  return {
    loss: ratio(figures.lost, figures.due),
    failure,
    failureDelta: failure === null || baselineFailure === null ? null : failure - baselineFailure,
    mismatch: ratio(figures.mismatched, figures.compared),
    latencyRatio: observed === null || reference === null ? null : observed / reference,
  };
}

/** One test of "rate above p0" on k of n at level `a`, as a verdict. */
function test(guard: Verdict['guard'], k: number, n: number, p0: number, a: number, tolerance: number, detail: string): Verdict {
  const log = logEvidence(k, n, p0);
  const threshold = Math.log(1 / a);
  return { guard, estimate: ratio(k, n), tolerated: p0, tolerance, sample: n, evidence: eValue(log), needed: 1 / a, more: moreNeeded(k, n, p0, threshold), breached: log >= threshold, detail };
}

function lossVerdict(f: Figures, tolerance: number, a: number): Verdict {
  return test('loss', f.lost, f.due, tolerance, a, tolerance, `${f.lost} of ${f.due} due messages lost`);
}

/** Of a two-sided comparison's α, the share the baseline's bound spends: it has most of the traffic, so a wider level costs it little. */
const BASELINE_SHARE = 0.2;

/**
 * Failure against the baseline: a confidence sequence for each and
 * a breach when the cohort's rate is above the baseline's upper bound plus the
 * tolerance. A baseline with nothing settled bounds nothing (its upper bound is
 * 1), so a cohort is never judged against a rate assumed for it.
 */
function failureVerdict(f: Figures, baseline: Figures | undefined, tolerance: number, a: number): Verdict {
  const settled = f.processed + f.failed;
  const baseSettled = baseline === undefined ? 0 : baseline.processed + baseline.failed;
  // The baseline's bound (at least its observed rate) is worth computing only when the cohort fails more often than
  // that rate plus the tolerance: otherwise the evidence is below 1 whatever the bound.
  const observed = baseSettled > 0 ? baseline!.failed / baseSettled : 0;
  const bound = settled > 0 && baseSettled > 0 && f.failed / settled > observed + tolerance ? upperBound(baseline!.failed, baseSettled, a * BASELINE_SHARE) : 1;
  const p0 = Math.min(1, bound + tolerance);
  return test('failure', f.failed, settled, p0, a * (1 - BASELINE_SHARE), tolerance, `${f.failed} of ${settled} failed; the baseline's rate is at most ${pct(bound)} (${baseline?.failed ?? 0} of ${baseSettled})`);
}

/**
 * Mismatches. Where nobody learns noise, the share of compared messages that
 * differ (net of ignored and noise fields) against the tolerance. Where the
 * old path is run twice, per field: the new path's rate of differing there
 * against the upper bound of two old runs' rate plus the tolerance, each of at
 * most MAX_FIELDS fields with a fixed 1/MAX_FIELDS of α: a timestamp that differs as often between
 * two old runs passes, a field wrong in 1 message of 20 beyond its noise is
 * stopped, and while few double runs are in, the old path's bound is wide and
 * nothing is decided.
 */
function mismatchVerdict(f: Figures, noise: GuardInput['noise'], tolerance: number, a: number): Verdict {
  if (noise === undefined || noise.runs === null || noise.fields.length === 0) {
    return test('mismatch', f.mismatched, f.compared, tolerance, a, tolerance, `${f.mismatched} of ${f.compared} compared outputs differ`);
  }
  const judged = noise.fields.filter((field) => !field.ignored);
  if (judged.length === 0) return test('mismatch', 0, f.compared, tolerance, a, tolerance, 'every differing field is ignored by the compare rules');
  const runs = noise.runs;
  // A fixed split: the number of fields that have differed grows with the data, and a share of a over it would
  // spend more than a in all. At most MAX_FIELDS are judged, those differing most often (ties by path).
  const fields = judged.sort((x, y) => y.count - x.count || (x.path < y.path ? -1 : 1)).slice(0, MAX_FIELDS);
  const share = a / MAX_FIELDS;
  let worst: Verdict | null = null;
  for (const field of fields) {
    const isPath = field.path.startsWith('$');
    const seen = runs > 0 ? field.differing / runs : 1;
    const bound = isPath ? (field.count / Math.max(1, f.compared) > seen + tolerance ? upperBound(field.differing, runs, share / 2) : 1) : 0;
    const v = test('mismatch', Math.min(field.count, f.compared), f.compared, Math.min(1, bound + tolerance), isPath ? share / 2 : share, tolerance,
      `${field.path} differs in ${field.count} of ${f.compared} compared outputs; two old runs differ there at most ${pct(bound)} (${field.differing} of ${runs} double runs)`);
    if (worst === null || Math.log(v.evidence) - Math.log(v.needed) > Math.log(worst.evidence) - Math.log(worst.needed)) worst = v;
  }
  return worst!;
}

/**
 * Latency: the reference's p95 is bounded above (a confidence sequence on the
 * share of its messages slower than each slot), and the cohort breaches when
 * more than 5 % of its messages are surely slower than `ratio` × that bound.
 * If the cohort's p95 is within the ratio, at most 5 % are.
 */
function latencyVerdict(latency: GuardInput['latency'], ratioAllowed: number, a: number, estimate: number | null): Verdict | null {
  if (latency === undefined || ratioAllowed <= 0) return null;
  const tail = 1 - LATENCY_QUANTILE;
  const nRef = total(latency.reference);
  const n = total(latency.observed);
  const refSlots = [...latency.reference.keys()].sort((x, y) => x - y);
  // Reference messages slower than each occupied slot; the bound is the first slot where even the upper
  // confidence bound of that share is within the tail (it falls as the slot rises: a binary search).
  const slower = new Array<number>(refSlots.length);
  let above = nRef;
  refSlots.forEach((slot, i) => (slower[i] = above -= latency.reference.get(slot)!));
  let lo = slower.findIndex((k) => k / nRef <= tail);
  let bound: number | null = null;
  // The bound is at least the reference's own p95 (slot `lo`): if no more than the tail of the cohort is slower than
  // `ratio` times that, the evidence is below 1 wherever the bound lies, and no search is needed.
  const rawLimit = lo >= 0 ? ratioAllowed * slotUpperMs(refSlots[lo]!) : Number.POSITIVE_INFINITY;
  let beyondRaw = 0;
  for (const [slot, count] of latency.observed) if (slotUpperMs(slot - 1) >= rawLimit) beyondRaw += count;
  if (n > 0 && lo >= 0 && beyondRaw <= tail * n) {
    return { ...test('latency', beyondRaw, n, tail, a * (1 - BASELINE_SHARE), ratioAllowed, `${beyondRaw} of ${n} timings above ${ratioAllowed}× the old path's p95 (${slotUpperMs(refSlots[lo]!).toFixed(1)} ms)`), estimate, tolerated: ratioAllowed };
  }
  if (lo >= 0 && upperBound(slower.at(-1)!, nRef, a * BASELINE_SHARE) <= tail) {
    let hi = refSlots.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (upperBound(slower[mid]!, nRef, a * BASELINE_SHARE) <= tail) hi = mid;
      else lo = mid + 1;
    }
    bound = slotUpperMs(refSlots[lo]!);
  }
  if (bound === null || n === 0) {
    return { guard: 'latency', estimate, tolerated: ratioAllowed, tolerance: ratioAllowed, sample: n, evidence: 1, needed: 1 / (a * (1 - BASELINE_SHARE)), more: null, breached: false, detail: `too few reference timings to bound the old path's p95 (${nRef})` };
  }
  const limit = ratioAllowed * bound;
  let beyond = 0;
  for (const [slot, count] of latency.observed) if (slotUpperMs(slot - 1) >= limit) beyond += count;
  const v = test('latency', beyond, n, tail, a * (1 - BASELINE_SHARE), ratioAllowed, `${beyond} of ${n} timings above ${limit.toFixed(1)} ms (${ratioAllowed}× the old path's p95 bound ${bound.toFixed(1)} ms)`);
  return { ...v, estimate, tolerated: ratioAllowed };
}

/** Every judged guard's verdict for one cohort (the guards that apply to it are chosen by the caller). */
export function verdictsOf(input: GuardInput, guards: Guards, rates: Rates): Verdict[] {
  const a = (alphaOf(guards) / JUDGED_GUARDS.length) * epochShare(input.epoch);
  const { figures } = input;
  const out = [lossVerdict(figures, guards.maxLossRate, a), failureVerdict(figures, input.baseline, guards.maxFailureRateDelta, a), mismatchVerdict(figures, input.noise, guards.maxMismatchRate, a)];
  const latency = latencyVerdict(input.latency, latencyRatioOf(guards), a, rates.latencyRatio);
  if (latency !== null) out.push(latency);
  return out;
}

function reasonOf(v: Verdict): string {
  const est = v.estimate === null ? '—' : v.guard === 'latency' ? `p95 ×${v.estimate.toFixed(2)}` : pct(v.estimate);
  const tolerated = v.guard === 'latency' ? `×${v.tolerance}` : pct(v.tolerated);
  return `${v.guard} ${est} vs tolerated ${tolerated}: evidence passed 1/α (${fmt(v.evidence)} ≥ ${fmt(v.needed)}) after ${v.sample} messages; ${v.detail}`;
}

/** An e-value in a few digits. */
export function fmt(x: number): string {
  return x >= 1e6 ? x.toExponential(1) : x >= 100 ? String(Math.round(x)) : x.toFixed(2);
}

/** The breaches among a cohort's verdicts, with the two that need no test: dropped events, and every due message lost. */
export function breachesOf(cohort: string, figures: Figures, verdicts: Verdict[]): Breach[] {
  const breaches: Breach[] = [];
  if (figures.dropped > 0) {
    const by = Object.entries(figures.droppedBy ?? {}).filter(([, n]) => n > 0);
    const why = by.length === 0 ? '' : ` (${by.map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
    breaches.push({ cohort, guard: 'dropped', value: figures.dropped, threshold: 0, sample: figures.received, reason: `${figures.dropped} events were dropped by an SDK${why}: the accounting is incomplete` });
  }
  const loss = verdicts.find((v) => v.guard === 'loss');
  if (figures.due >= HARD_STOP_DUE && figures.lost >= figures.due && loss?.breached !== true) {
    breaches.push({ cohort, guard: 'loss', value: 1, threshold: loss?.tolerance ?? 0, sample: figures.due, reason: `hard stop: all ${figures.due} due messages lost` });
  }
  for (const v of verdicts) {
    if (!v.breached) continue;
    breaches.push({ cohort, guard: v.guard, value: v.estimate ?? 0, threshold: v.tolerance, sample: v.sample, reason: reasonOf(v), evidence: { value: v.evidence, needed: v.needed } });
  }
  return breaches;
}

/** The per-field test the noise rules share with the mismatch guard: its tolerance, at the guard's share of alpha. */
export const fieldTestOf = (guards: Guards) => ({ tolerance: guards.maxMismatchRate, alpha: alphaOf(guards) / JUDGED_GUARDS.length });
