/**
 * What GET /v1/rollouts/:key/mismatches shows beside the samples: fields
 * ranked by how many compared messages differ there (noise and ignored fields
 * apart, after the rest), the noise learned, and each sample's diffs split
 * into real differences and noise.
 */
import { formatPath, generalise, parsePath, type DiffEntry } from '@rollcall/protocol';
import { iso } from '../clock.ts';
import type { FieldJudgement, NoiseEvidence } from './noise.ts';

const rate = (x: number | null) => (x === null ? null : Math.round(x * 10_000) / 10_000);

/** Real differences first, most frequent first; then noise and ignored fields. */
export function rankedFields(judged: Map<string, FieldJudgement>, counts: Map<string, number>, compared: number) {
  return [...judged.values()]
    .map((j) => ({
      path: j.path,
      count: counts.get(j.path) ?? 0,
      compared,
      noise: j.noise,
      ignored: j.ignored,
      oldRate: rate(j.oldRate),
      newRate: rate(j.newRate),
      learnedAt: iso(j.learnedAt),
      learnedFrom: j.learnedFrom,
    }))
    .filter((f) => f.count > 0 || f.noise)
    .sort((a, b) => Number(a.noise || a.ignored) - Number(b.noise || b.ignored) || b.count - a.count || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The field a diff entry is counted under (`$.items[3].at` → `$.items[*].at`). */
function fieldOf(path: string): string {
  try {
    return formatPath(generalise(parsePath(path)));
  } catch {
    return path;
  }
}

/** A sample's diffs, real ones apart from quiet ones; withdrawn when every field it differs in is quiet. */
export function splitSample(kind: string, diffs: DiffEntry[], quiet: ReadonlySet<string>) {
  const real: DiffEntry[] = [];
  const noise: DiffEntry[] = [];
  for (const d of diffs) (kind === 'diff' && quiet.has(fieldOf(d.path)) ? noise : real).push(d);
  return { diffs: real, noise, withdrawn: kind === 'diff' && real.length === 0 && noise.length > 0 };
}

/** The noise learned for a rollout: double runs so far and every field two old runs differed in. */
export function noiseView(evidence: NoiseEvidence, judged: Map<string, FieldJudgement>, learning: { runs: number; needed: number } | null) {
  return {
    runs: evidence.runs,
    learning,
    fields: evidence.fields.map((f) => ({
      path: f.path,
      differing: f.differing,
      firstSeenAt: iso(f.firstSeenAt),
      learnedAt: iso(f.learnedAt),
      learnedFrom: f.learnedFrom,
      noise: judged.get(f.path)?.noise ?? false,
    })),
  };
}
