/**
 * Output comparison for shadow runs: deep equality after normalisation
 * (ignored paths, unordered arrays, numeric tolerance), with a bounded diff
 * whose values are redacted and truncated before they can leave the process,
 * and the set of fields that differ. Learned noise is not ignored here: the
 * server judges it (a field noisy in some messages may still carry a real
 * difference), so every differing field is reported.
 */
import { formatPath, generalise, MAX_PATHS, MORE_PATHS, PathSet, type DiffEntry, type Segment } from '@rollcall/protocol';
import { plainEqual, stableStringify, toPlain } from './plain.ts';

export { toPlain } from './plain.ts';

export interface CompareOptions {
  /** Paths never compared, such as `$.meta.requestId` or `$.items[*].at`. */
  ignore?: string[];
  /** Compare arrays as multisets: everywhere (true) or at these paths. */
  unorderedArrays?: boolean | string[];
  /** Numbers this close are equal: an absolute difference, or absolute and relative bounds. */
  numericTolerance?: number | { absolute?: number; relative?: number };
  /** Paths whose values are replaced by "[redacted]" in diffs, or a function that rewrites any value. */
  redact?: string[] | ((path: string, value: unknown) => unknown);
  /** At most this many diff entries per mismatch (20). */
  maxDiffs?: number;
  /** Values are cut to this many characters (200). */
  maxValueLength?: number;
}

export interface Comparison {
  equal: boolean;
  /** How many differences there were (diffs holds at most maxDiffs of them). */
  differences: number;
  diffs: DiffEntry[];
  /**
   * Every field that differs, generalised (`$.items[*].at`) and sorted: what the server ranks
   * fields by and withdraws noise with. Past MAX_PATHS fields it ends with MORE_PATHS, a
   * field that is never noise, so a message too different to list is never withdrawn.
   */
  paths: string[];
}

const REDACTED = '[redacted]';

interface Walk extends Comparison {
  fields: Set<string>;
  limit: number;
}

export function createComparator(options: CompareOptions = {}) {
  const ignore = new PathSet(options.ignore ?? []);
  const unorderedEverywhere = options.unorderedArrays === true;
  const unordered = new PathSet(Array.isArray(options.unorderedArrays) ? options.unorderedArrays : []);
  const tolerance = typeof options.numericTolerance === 'number' ? { absolute: options.numericTolerance } : (options.numericTolerance ?? {});
  const absolute = tolerance.absolute ?? 0;
  const relative = tolerance.relative ?? 0;
  const redactPaths = Array.isArray(options.redact) ? new PathSet(options.redact) : new PathSet();
  const redactFn = typeof options.redact === 'function' ? options.redact : undefined;
  const maxDiffs = options.maxDiffs ?? 20;
  // With nothing to ignore, reorder or tolerate, equal outputs are recognised in one pass.
  const exact = ignore.size === 0 && !unorderedEverywhere && unordered.size === 0 && absolute === 0 && relative === 0;
  const quickEqual = (a: unknown, b: unknown) => (exact ? plainEqual(a, b, 0) : undefined);
  const maxValueLength = options.maxValueLength ?? 200;

  function numbersEqual(a: number, b: number): boolean {
    if (a === b) return true;
    const diff = Math.abs(a - b);
    return diff <= absolute || diff <= relative * Math.max(Math.abs(a), Math.abs(b));
  }

  /** Removes ignored subpaths, so that unordered arrays sort on what is compared. */
  function strip(value: unknown, path: Segment[], noise: PathSet | undefined): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v, i) => (isIgnored([...path, i], noise) ? null : strip(v, [...path, i], noise)));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!isIgnored([...path, k], noise)) out[k] = strip(v, [...path, k], noise);
    return out;
  }

  function isIgnored(path: Segment[], noise: PathSet | undefined): boolean {
    return ignore.has(path) || (noise !== undefined && noise.has(path));
  }

  function redactDeep(value: unknown, path: Segment[]): unknown {
    if (redactPaths.has(path)) return REDACTED;
    if (value === null || typeof value !== 'object' || redactPaths.size === 0) return value;
    if (Array.isArray(value)) return value.map((v, i) => redactDeep(v, [...path, i]));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, [...path, k]);
    return out;
  }

  function clip(value: unknown): unknown {
    if (typeof value === 'string') return value.length > maxValueLength ? `${value.slice(0, maxValueLength)}…` : value;
    if (value === null || typeof value !== 'object') return value;
    const text = JSON.stringify(value);
    return text.length > maxValueLength ? `${text.slice(0, maxValueLength)}…` : value;
  }

  function shown(value: unknown, path: Segment[]): unknown {
    let out = redactDeep(value, path);
    if (redactFn !== undefined) {
      try {
        out = redactFn(formatPath(path), out);
      } catch {
        out = REDACTED;
      }
    }
    return clip(out);
  }

  /** Compares a and b at `path` (a stack shared by the whole walk: pushed and popped, never copied). */
  function walk(a: unknown, b: unknown, path: Segment[], noise: PathSet | undefined, result: Walk): void {
    // Known noise is still compared and reported (the server judges it); it only lines up unordered arrays.
    if (ignore.has(path)) return;
    if (a === b) return;
    if (typeof a === 'number' && typeof b === 'number') {
      if (!numbersEqual(a, b)) record(a, b, path, result);
      return;
    }
    const aArray = Array.isArray(a);
    const aObject = a !== null && typeof a === 'object' && !aArray;
    if (aArray && Array.isArray(b)) {
      let left = a as unknown[];
      let right = b;
      if (unorderedEverywhere || unordered.has(path)) {
        const key = (v: unknown, i: number) => stableStringify(strip(v, [...path, i], noise));
        left = left.map((v, i) => [key(v, i), v] as const).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, v]) => v);
        right = right.map((v, i) => [key(v, i), v] as const).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, v]) => v);
      }
      const length = Math.max(left.length, right.length);
      for (let i = 0; i < length; i++) {
        path.push(i);
        walk(left[i], right[i], path, noise, result);
        path.pop();
      }
      return;
    }
    if (aObject && b !== null && typeof b === 'object' && !Array.isArray(b)) {
      let keys = Object.keys(a as object);
      const bKeys = Object.keys(b);
      // Outputs of the same code usually have the same keys in the same order: walk them as they
      // are. Otherwise walk the sorted union, so the diff comes out in a stable order.
      let same = keys.length === bKeys.length;
      for (let i = 0; same && i < keys.length; i++) same = keys[i] === bKeys[i];
      if (!same) {
        for (const k of bKeys) if (!Object.hasOwn(a as object, k)) keys.push(k);
        keys = keys.sort();
      }
      for (const k of keys) {
        path.push(k);
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path, noise, result);
        path.pop();
      }
      return;
    }
    record(a, b, path, result);
  }

  function record(a: unknown, b: unknown, path: Segment[], result: Walk): void {
    result.equal = false;
    result.differences++;
    if (result.fields.size <= MAX_PATHS) result.fields.add(formatPath(generalise(path)));
    if (result.diffs.length >= result.limit) return;
    const at = [...path];
    const entry: DiffEntry = { path: formatPath(at) };
    if (a !== undefined) entry.old = shown(a, at);
    if (b !== undefined) entry.new = shown(b, at);
    result.diffs.push(entry);
  }

  function run(oldValue: unknown, newValue: unknown, noise: PathSet | undefined, limit: number): Comparison {
    const result: Walk = { equal: true, differences: 0, diffs: [], paths: [], fields: new Set(), limit };
    if (quickEqual(oldValue, newValue) === true) return result;
    walk(toPlain(oldValue), toPlain(newValue), [], noise, result);
    const paths = [...result.fields].sort();
    if (paths.length > MAX_PATHS) paths.splice(MAX_PATHS, paths.length, MORE_PATHS);
    return { equal: result.equal, differences: result.differences, diffs: result.diffs, paths };
  }

  return {
    /** Compares two outputs; `noise` (fields known to differ between runs) only lines up unordered arrays. */
    compare(oldValue: unknown, newValue: unknown, noise?: PathSet): Comparison {
      return run(oldValue, newValue, noise, maxDiffs);
    },

    /** The generalised fields at which two outputs differ, without building a diff (empty when equal). */
    differences(oldValue: unknown, newValue: unknown, noise?: PathSet): string[] {
      return run(oldValue, newValue, noise, 0).paths;
    },
  };
}

export type Comparator = ReturnType<typeof createComparator>;
