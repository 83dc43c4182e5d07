/**
 * Which differing fields are noise, as a pure function of the evidence. SDKs
 * that learn noise run the old path twice on a sampled share of shadow
 * messages and report, per field, in how many of those double runs it
 * differed; every mismatch is reported with the set of fields it differs in.
 *
 * The rule:
 * - a field is taken for noise once it has differed in NOISE_MIN_DIFFERING
 *   double runs (`learnedAt` marks that moment), and only while there is no
 *   evidence (guards.ts, the mismatch guard's own test) that the new path
 *   differs there more often than two old runs do, beyond the tolerance. A
 *   field that is noisy in some messages but wrong in more (a type that flips
 *   in 1 % of old runs and is mislabelled in 17 % of new ones) is a real
 *   difference once the evidence says so;
 * - a mismatch is withdrawn only when every field it differs in is noise or
 *   ignored by the rollout's rules: one real field keeps it counted;
 * - `learningProgress` tells how many double runs are in; the verdict itself
 *   needs no minimum, since the old path's bound is wide while runs are few.
 */
import { PathSet, parsePath, type Segment } from '@rollcall/protocol';
import { NOISE_MIN_DIFFERING } from '../reports/learned-noise.ts';
import { logEvidence, upperBound } from './evidence.ts';

export { NOISE_MIN_DIFFERING };
export const NOISE_MIN_RUNS = 20;

/** The test a field's new-path rate is held to: the mismatch tolerance, at this level. */
export interface FieldTest {
  tolerance: number;
  alpha: number;
}

/** True when `count` of `compared` differing is evidence (at `alpha`) that the new path differs more often than two old runs (`differing` of `runs`) plus the tolerance. */
export function differsBeyondNoise(count: number, compared: number, differing: number, runs: number, test: FieldTest): boolean {
  if (compared === 0 || count / compared <= test.tolerance) return false;
  const bound = upperBound(differing, runs, test.alpha / 2);
  return logEvidence(Math.min(count, compared), compared, Math.min(1, bound + test.tolerance)) >= Math.log(2 / test.alpha);
}

/**
 * True while a field taken for noise may yet prove a real difference: the new path's rate of differing
 * there could, at `alpha`, still lie above what two old runs show plus the tolerance. A verdict never
 * waits on this (no evidence of a difference, no revert); advancing does, since no evidence of a
 * difference is not yet evidence of none (a type mislabelled in 1 message of 6, in a field two old runs
 * differ in 1 time in 20, is noise by the first rule for a few hundred comparisons).
 */
export function noiseUnsettled(count: number, compared: number, differing: number, runs: number, test: FieldTest): boolean {
  if (count === 0 || compared === 0) return false;
  const newUpper = upperBound(Math.min(count, compared), compared, test.alpha / 2);
  const oldUpper = upperBound(differing, Math.max(runs, differing), test.alpha / 2);
  return newUpper > Math.min(1, oldUpper + test.tolerance);
}

export interface NoiseField {
  path: string;
  /** Double runs in which the field differed. */
  differing: number;
  firstSeenAt: number;
  learnedAt: number | null;
  learnedFrom: number | null;
}

export interface NoiseEvidence {
  /** Double runs reported so far; null when no SDK learns noise for this rollout (or only older ones, which send no count). */
  runs: number | null;
  fields: NoiseField[];
}

/** Mismatches that differ in exactly these fields, and how many. */
export interface FieldSet {
  fields: string[];
  count: number;
}

export interface FieldJudgement {
  path: string;
  /** Compared messages in which the new path differs here. */
  count: number;
  /** Share of double runs in which two old runs differed here (null: never seen to). */
  oldRate: number | null;
  /** Share of compared messages in which old and new differ here. */
  newRate: number;
  noise: boolean;
  /** Taken for noise while the evidence could still show it is not (see noiseUnsettled): advancing waits. */
  unsettled: boolean;
  ignored: boolean;
  learnedAt: number | null;
  learnedFrom: number | null;
}

/** Per field, in how many compared messages it differs. */
export function fieldCounts(sets: readonly FieldSet[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const set of sets) for (const f of set.fields) counts.set(f, (counts.get(f) ?? 0) + set.count);
  return counts;
}

/** A field is a real path (`$…`), not `(error)`, `(timeout)` or `(more)`. */
const isPath = (field: string) => field.startsWith('$');

function segmentsOf(field: string): Segment[] | null {
  try {
    return parsePath(field);
  } catch {
    return null;
  }
}

/** True when the rules ignore the field or a field it lies inside. */
export function ignoredBy(ignore: PathSet, field: string): boolean {
  if (ignore.size === 0 || !isPath(field)) return false;
  const segments = segmentsOf(field);
  if (segments === null) return false;
  for (let i = 0; i <= segments.length; i++) if (ignore.has(segments.slice(0, i))) return true;
  return false;
}

/** Judges every field that differs, or that two old runs differed in, over the window's field sets. */
export function judgeFields(evidence: NoiseEvidence, sets: readonly FieldSet[], compared: number, ignore: PathSet, test: FieldTest): Map<string, FieldJudgement> {
  const counts = fieldCounts(sets);
  const learned = new Map(evidence.fields.map((f) => [f.path, f]));
  const out = new Map<string, FieldJudgement>();
  for (const path of new Set([...counts.keys(), ...learned.keys()])) {
    const field = learned.get(path);
    const count = counts.get(path) ?? 0;
    const newRate = compared > 0 ? Math.min(1, count / compared) : 0;
    // Older SDKs reported fields without counting runs: each report stands for a double run that differed.
    const oldRate = field === undefined ? null : evidence.runs === null || evidence.runs === 0 ? 1 : Math.min(1, field.differing / evidence.runs);
    const learnedEnough = field !== undefined && field.differing >= NOISE_MIN_DIFFERING && isPath(path);
    const runs = evidence.runs === null || evidence.runs === 0 ? (field?.differing ?? 0) : evidence.runs;
    const noise = learnedEnough && !differsBeyondNoise(count, compared, field.differing, Math.max(runs, field.differing), test);
    const unsettled = noise && noiseUnsettled(count, compared, field.differing, runs, test);
    out.set(path, { path, count, oldRate, newRate, noise, unsettled, ignored: ignoredBy(ignore, path), learnedAt: field?.learnedAt ?? null, learnedFrom: field?.learnedFrom ?? null });
  }
  return out;
}

/** The fields a mismatch may lie wholly in and be withdrawn: noise, or ignored by the rollout's rules. */
export function quietFields(judged: Map<string, FieldJudgement>): Set<string> {
  return new Set([...judged.values()].filter((j) => j.noise || j.ignored).map((j) => j.path));
}

/** Mismatches among `sets` whose every differing field is quiet. */
export function withdrawable(sets: readonly FieldSet[], quiet: ReadonlySet<string>): number {
  let n = 0;
  for (const set of sets) if (set.fields.length > 0 && set.fields.every((f) => quiet.has(f))) n += set.count;
  return n;
}

/** While noise is being learned and too few double runs are in: how many, of how many. */
export function learningProgress(evidence: NoiseEvidence): { runs: number; needed: number } | null {
  return evidence.runs !== null && evidence.runs < NOISE_MIN_RUNS ? { runs: evidence.runs, needed: NOISE_MIN_RUNS } : null;
}
