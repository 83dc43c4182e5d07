/**
 * The guards, as a pure function of a cohort's figures: loss rate, failure
 * rate over the baseline's, mismatch rate, and dropped events. Each rate
 * counts only once its sample reaches `minSample`; dropped events count at
 * once, since they mean the accounting itself is incomplete.
 */
import type { Counts } from '../../sdk/wire.ts';
import type { Guards } from '../rollouts/model.ts';

export type GuardName = 'loss' | 'failure' | 'mismatch' | 'dropped';

/** A cohort's counters, with what the ledger adds: due (received past the grace), lost, late. */
export interface Figures extends Counts {
  due: number;
  lost: number;
  late: number;
  /** Of `lost`, those not replayed yet. */
  pending: number;
}

export interface Rates {
  /** lost / due. */
  loss: number | null;
  /** failed / (processed + failed). */
  failure: number | null;
  /** failure minus the baseline cohort's failure rate. */
  failureDelta: number | null;
  /** mismatched / compared. */
  mismatch: number | null;
}

export interface Breach {
  cohort: string;
  guard: GuardName;
  value: number;
  threshold: number;
  /** The sample the rate was measured on. */
  sample: number;
  reason: string;
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
/** Above the threshold by more than floating-point noise (0.30 − 0.29 is not above 0.01). */
const above = (value: number, threshold: number) => value > threshold + 1e-12;
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 1)}%`;

export function ratesOf(figures: Figures, baseline: Figures | undefined, guards: Guards): Rates {
  const failure = ratio(figures.failed, figures.processed + figures.failed);
  const baselineSettled = baseline === undefined ? 0 : baseline.processed + baseline.failed;
  // A baseline too small to say anything is taken as failing nothing: the conservative choice.
  const baselineFailure = baseline !== undefined && baselineSettled >= guards.minSample ? baseline.failed / baselineSettled : 0;
  return {
    loss: ratio(figures.lost, figures.due),
    failure,
    failureDelta: failure === null ? null : failure - baselineFailure,
    mismatch: ratio(figures.mismatched, figures.compared),
  };
}

export function breachesOf(cohort: string, figures: Figures, rates: Rates, guards: Guards): Breach[] {
  const breaches: Breach[] = [];
  if (figures.dropped > 0) {
    breaches.push({
      cohort,
      guard: 'dropped',
      value: figures.dropped,
      threshold: 0,
      sample: figures.received,
      reason: `${figures.dropped} events were dropped by an SDK buffer: the accounting is incomplete`,
    });
  }
  if (figures.due >= guards.minSample && rates.loss !== null && above(rates.loss, guards.maxLossRate)) {
    breaches.push({
      cohort,
      guard: 'loss',
      value: rates.loss,
      threshold: guards.maxLossRate,
      sample: figures.due,
      reason: `${figures.lost} of ${figures.due} due messages lost (${pct(rates.loss)} > ${pct(guards.maxLossRate)})`,
    });
  }
  const settled = figures.processed + figures.failed;
  if (settled >= guards.minSample && rates.failureDelta !== null && above(rates.failureDelta, guards.maxFailureRateDelta)) {
    breaches.push({
      cohort,
      guard: 'failure',
      value: rates.failureDelta,
      threshold: guards.maxFailureRateDelta,
      sample: settled,
      reason: `failure rate ${pct(rates.failure ?? 0)} is ${pct(rates.failureDelta)} above the baseline's (> ${pct(guards.maxFailureRateDelta)})`,
    });
  }
  if (figures.compared >= guards.minSample && rates.mismatch !== null && above(rates.mismatch, guards.maxMismatchRate)) {
    breaches.push({
      cohort,
      guard: 'mismatch',
      value: rates.mismatch,
      threshold: guards.maxMismatchRate,
      sample: figures.compared,
      reason: `${figures.mismatched} of ${figures.compared} compared outputs differ (${pct(rates.mismatch)} > ${pct(guards.maxMismatchRate)})`,
    });
  }
  return breaches;
}
