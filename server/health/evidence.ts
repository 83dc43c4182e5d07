/**
 * Anytime-valid evidence about a rate, from counts alone: an e-process for
 * "the rate is above p0" and the confidence sequences it inverts to.
 *
 * Why it stays valid when checked on every tick. For one message that fails
 * (or is lost, or differs) with conditional probability q ≤ p0, and any
 * alternative p > p0, the likelihood-ratio factor (p/p0)^x ((1-p)/(1-p0))^(1-x)
 * has expectation q·p/p0 + (1-q)(1-p)/(1-p0) ≤ 1, since that expression grows
 * with q and equals 1 at q = p0. So the running product over messages is a
 * nonnegative supermartingale under every rate in the null, whatever the rate
 * does from message to message; so is any fixed mixture of such products over
 * alternatives p_i > p0. Ville's inequality then gives
 * P(sup_n E_n ≥ 1/α) ≤ α: the chance that the evidence ever reaches 1/α,
 * looked at after every message or any subset of them (every controller
 * tick), is at most α. The product depends on the counts only, not on their
 * order, so a tick that sees a batch of messages at once reads the same value
 * the message-by-message process had there.
 *
 * The method is a discrete mixture of likelihood ratios over alternatives
 * spaced geometrically in odds above p0 (a mixture SPRT in the sense of
 * Robbins 1970 and Johari et al., "Always valid inference", 2017; an
 * e-process in the sense of Ramdas et al., "Game-theoretic statistics and
 * safe anytime-valid inference", 2023; the counting-process view Netflix uses
 * for canaries, Lindon et al., KDD 2022). Its inversion, the set of p0 not
 * rejected, is a confidence sequence: it holds the true rate at every time at
 * once with probability ≥ 1 − α, which is what lets two of them (a cohort's
 * and the baseline's) be compared with a union bound.
 */

/**
 * Odds ratios of the alternatives over the null's odds, equally weighted:
 * log-odds ratios 0.01 × 1.45^i, i = 0..18 (odds ratios 1.01 to about 3,000).
 * Spaced geometrically so that both a small excess over a large sample and a
 * large excess over a few messages have an alternative near them: the bounds
 * keep narrowing as data grows rather than stopping at the grid's step.
 */
const ODDS_RATIOS = Array.from({ length: 19 }, (_, i) => Math.exp(0.01 * 1.45 ** i));
const LOG_COMPONENTS = Math.log(ODDS_RATIOS.length);

/**
 * Log of the evidence that the rate behind `k` events in `n` trials is above
 * `p0` (natural log of the e-value; 0 is no evidence either way).
 */
export function logEvidence(k: number, n: number, p0: number): number {
  if (n <= 0 || (k <= 0 && p0 <= 0)) return 0;
  if (p0 >= 1) return Number.NEGATIVE_INFINITY;
  if (p0 <= 0) return Number.POSITIVE_INFINITY; // any event at all refutes a rate of zero
  const { up, down } = componentsOf(p0);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < up.length; i++) {
    const t = k * up[i]! + (n - k) * down[i]!;
    if (t > max) max = t;
  }
  let sum = 0;
  for (let i = 0; i < up.length; i++) sum += Math.exp(k * up[i]! + (n - k) * down[i]! - max);
  return max + Math.log(sum) - LOG_COMPONENTS;
}

/** Per alternative, the log-likelihood ratio of one event (`up`) and of one non-event (`down`); the last few p0 kept. */
const componentCache = new Map<number, { up: Float64Array; down: Float64Array }>();
function componentsOf(p0: number): { up: Float64Array; down: Float64Array } {
  const cached = componentCache.get(p0);
  if (cached !== undefined) return cached;
  const odds0 = p0 / (1 - p0);
  const up = new Float64Array(ODDS_RATIOS.length);
  const down = new Float64Array(ODDS_RATIOS.length);
  ODDS_RATIOS.forEach((r, i) => {
    const odds = odds0 * r;
    const p = odds / (1 + odds);
    up[i] = Math.log(p / p0);
    down[i] = Math.log1p(-p) - Math.log1p(-p0);
  });
  if (componentCache.size >= 64) componentCache.delete(componentCache.keys().next().value!);
  componentCache.set(p0, { up, down });
  return { up, down };
}

/** logEvidence for a p0 met once (a bisection's): computed in place, not cached. */
function uncachedLogEvidence(k: number, n: number, p0: number): number {
  if (p0 <= 0) return Number.POSITIVE_INFINITY;
  const odds0 = p0 / (1 - p0);
  const lp0 = Math.log(p0);
  const lq0 = Math.log1p(-p0);
  let max = Number.NEGATIVE_INFINITY;
  const terms = TERMS;
  for (let i = 0; i < ODDS_RATIOS.length; i++) {
    const odds = odds0 * ODDS_RATIOS[i]!;
    // log p = log(odds) − log(1 + odds); log(1 − p) = −log(1 + odds).
    const l1 = Math.log1p(odds);
    const t = k * (Math.log(odds) - l1 - lp0) + (n - k) * (-l1 - lq0);
    terms[i] = t;
    if (t > max) max = t;
  }
  let sum = 0;
  for (let i = 0; i < ODDS_RATIOS.length; i++) sum += Math.exp(terms[i]! - max);
  return max + Math.log(sum) - LOG_COMPONENTS;
}
const TERMS = new Float64Array(ODDS_RATIOS.length);

/**
 * The lower end of a confidence sequence for the rate: the smallest p0 the
 * evidence does not yet reject at level `alpha` (0 when it rejects none).
 */
export function lowerBound(k: number, n: number, alpha: number): number {
  if (n <= 0 || k <= 0) return 0;
  const threshold = Math.log(1 / alpha);
  let lo = 0;
  let hi = k / n;
  if (logEvidence(k, n, hi * (1 - 1e-9)) >= threshold) return hi;
  // To a millionth of the rate seen (or 1e-12): finer than any tolerance is set.
  for (let i = 0; i < 200 && hi - lo > Math.max(1e-6 * hi, 1e-12); i++) {
    const mid = (lo + hi) / 2;
    if (uncachedLogEvidence(k, n, mid) >= threshold) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The upper end of a confidence sequence for the rate (1 when nothing has been seen). */
export function upperBound(k: number, n: number, alpha: number): number {
  return n <= 0 ? 1 : 1 - lowerBound(n - k, n, alpha);
}

/**
 * Roughly how many more trials, at the rate seen so far, the evidence against
 * `p0` needs to reach `logThreshold`; null when the rate seen is not above p0
 * (at that rate no verdict is coming).
 */
export function moreNeeded(k: number, n: number, p0: number, logThreshold: number): number | null {
  if (n <= 0 || k / n <= p0) return null;
  const now = logEvidence(k, n, p0);
  if (now >= logThreshold) return 0;
  const p = k / n;
  // Per trial, the best alternative gains the Kullback-Leibler divergence of p from p0 on average.
  const kl = p * Math.log(p / Math.max(p0, 1e-300)) + (p < 1 ? (1 - p) * (Math.log1p(-p) - Math.log1p(-p0)) : 0);
  if (!(kl > 0)) return null;
  return Math.ceil((logThreshold - now) / kl);
}

/**
 * The share of α a test started at the `epoch`-th boundary (0, 1, 2, …) may
 * spend: 6 / (π² (epoch + 1)²) of it, which sums to 1 over every epoch, so a
 * cohort judged over many windows still reverts healthy with chance ≤ α.
 */
export function epochShare(epoch: number): number {
  return 6 / (Math.PI ** 2 * (epoch + 1) ** 2);
}
