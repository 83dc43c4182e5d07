/**
 * The rule the guards used before they were judged by evidence, kept here
 * only so the simulator can run the same streams through it side by side: a
 * rate over the last `windowSeconds` compared with its threshold on every
 * tick once `minSample` messages are in, the baseline's failure rate held at
 * 0 % until it has `minSample` settled, and noise learned once a field
 * differed in 2 double runs, held back until 20 are in.
 */
import type { Figures } from '../../server/health/guards.ts';
import type { FieldSet, NoiseEvidence } from '../../server/health/noise.ts';
import type { Guards } from '../../server/rollouts/model.ts';

const above = (value: number, threshold: number) => value > threshold + 1e-12;

function noiseFields(evidence: NoiseEvidence, sets: FieldSet[], compared: number): Set<string> {
  const counts = new Map<string, number>();
  for (const set of sets) for (const f of set.fields) counts.set(f, (counts.get(f) ?? 0) + set.count);
  const quiet = new Set<string>();
  for (const field of evidence.fields) {
    const oldRate = evidence.runs === null || evidence.runs === 0 ? 1 : Math.min(1, field.differing / evidence.runs);
    const newRate = compared > 0 ? Math.min(1, (counts.get(field.path) ?? 0) / compared) : 0;
    if (field.differing >= 2 && newRate <= 2 * oldRate + 0.05 + 1e-12) quiet.add(field.path);
  }
  return quiet;
}

/** The guard the fixed-threshold rule breaches, or null. */
export function fixedRuleBreach(kind: 'band' | 'shadow', f: Figures, baseline: Figures, guards: Guards, evidence: NoiseEvidence, sets: FieldSet[]): string | null {
  if (kind === 'shadow') {
    if (evidence.runs !== null && evidence.runs < 20) return null;
    const quiet = noiseFields(evidence, sets, f.compared);
    let withdrawn = 0;
    for (const set of sets) if (set.fields.every((x) => quiet.has(x))) withdrawn += set.count;
    const mismatched = Math.max(0, f.mismatched - withdrawn);
    return f.compared >= guards.minSample && above(mismatched / f.compared, guards.maxMismatchRate) ? 'mismatch' : null;
  }
  if (f.due >= guards.minSample && above(f.lost / f.due, guards.maxLossRate)) return 'loss';
  const settled = f.processed + f.failed;
  const baseSettled = baseline.processed + baseline.failed;
  const baseRate = baseSettled >= guards.minSample ? baseline.failed / baseSettled : 0;
  if (settled >= guards.minSample && above(f.failed / settled - baseRate, guards.maxFailureRateDelta)) return 'failure';
  return null;
}
