/**
 * The comparison rules set on a rollout (they arrive in the snapshot) merged
 * into the options a service sets in code. A rollout's rules only ever relax
 * the comparison, so an admin can quiet a field without a redeploy but cannot
 * silence what the code asked to compare more loosely: ignore paths are
 * joined, arrays are unordered wherever either says so, and the looser
 * numeric tolerance wins.
 */
import type { RunCompareOptions } from './handlers.ts';
import type { CompareRules } from '@rollcall/protocol';

type Tolerance = RunCompareOptions['numericTolerance'];

const bounds = (t: Tolerance) => (typeof t === 'number' ? { absolute: t } : (t ?? {}));

function looser(a: Tolerance, b: Tolerance): Tolerance {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const x = bounds(a);
  const y = bounds(b);
  return { absolute: Math.max(x.absolute ?? 0, y.absolute ?? 0), relative: Math.max(x.relative ?? 0, y.relative ?? 0) };
}

function unordered(a: boolean | string[] | undefined, b: boolean | string[] | undefined): boolean | string[] | undefined {
  if (a === true || b === true) return true;
  const paths = [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])];
  return paths.length > 0 ? [...new Set(paths)] : (a ?? b);
}

export function mergeCompareRules(code: RunCompareOptions | undefined, rules: CompareRules | undefined): RunCompareOptions | undefined {
  if (rules === undefined) return code;
  const merged: RunCompareOptions = { ...code };
  const ignore = [...new Set([...(code?.ignore ?? []), ...(rules.ignore ?? [])])];
  if (ignore.length > 0) merged.ignore = ignore;
  const arrays = unordered(code?.unorderedArrays, rules.unorderedArrays);
  if (arrays !== undefined) merged.unorderedArrays = arrays;
  const tolerance = looser(code?.numericTolerance, rules.numericTolerance);
  if (tolerance !== undefined) merged.numericTolerance = tolerance;
  return merged;
}
