/**
 * Output comparison for shadow runs: deep equality after normalisation
 * (ignored paths, unordered arrays, numeric tolerance, learned noise), with a
 * bounded diff whose values are redacted and truncated before they can leave
 * the process.
 */
import { formatPath, generalise, PathSet, type Segment } from './json-path.ts';
import type { DiffEntry } from './wire.ts';

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
}

const MAX_DEPTH = 64;
const REDACTED = '[redacted]';

/**
 * True when `value` is already plain JSON-like data (plain objects, arrays,
 * strings, finite numbers, booleans, null) no deeper than MAX_DEPTH: most
 * handler outputs are, and they are then compared as they are, uncopied.
 */
function isPlain(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlain(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined && !isPlain(v, depth + 1)) return false;
  }
  return true;
}

/** Two values of different shapes: different if both are plain, else for the full comparison to decide. */
function unequalIfPlain(a: unknown, b: unknown, depth: number): false | undefined {
  return isPlain(a, depth) && isPlain(b, depth) ? false : undefined;
}

/**
 * Deep equality of plain JSON-like data in one pass, with no copying and no
 * path bookkeeping: true or false, or undefined as soon as it meets anything
 * that is not plain (then the full comparison decides: a Date may equal the
 * string it converts to). A difference between plain values is final, so the
 * first one answers. A key whose value is undefined counts as absent, as it
 * does once converted.
 */
function plainEqual(a: unknown, b: unknown, depth: number): boolean | undefined {
  if (a === b) return typeof a === 'number' && !Number.isFinite(a) ? undefined : true;
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'number') return Number.isFinite(a) && Number.isFinite(b) ? false : undefined;
  if (a === null || b === null || ta !== 'object' || tb !== 'object') return unequalIfPlain(a, b, depth);
  if (depth >= MAX_DEPTH) return undefined;
  const aArray = Array.isArray(a);
  if (aArray !== Array.isArray(b)) return unequalIfPlain(a, b, depth);
  if (aArray) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return unequalIfPlain(x, y, depth);
    for (let i = 0; i < x.length; i++) {
      const r = plainEqual(x[i], y[i], depth + 1);
      if (r !== true) return r;
    }
    return true;
  }
  const protoA = Object.getPrototypeOf(a);
  const protoB = Object.getPrototypeOf(b);
  if ((protoA !== Object.prototype && protoA !== null) || (protoB !== Object.prototype && protoB !== null)) return undefined;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const key in x) {
    if (x[key] === undefined) continue;
    const r = plainEqual(x[key], y[key], depth + 1);
    if (r !== true) return r;
  }
  for (const key in y) {
    if (y[key] === undefined || x[key] !== undefined) continue;
    return isPlain(y[key], depth + 1) ? false : undefined;
  }
  return true;
}

/** Turns any value into plain JSON-like data: dates to ISO strings, maps to objects, cycles cut. */
export function toPlain(value: unknown, depth = 0, seen?: Set<object>): unknown {
  if (depth === 0 && isPlain(value, 0)) return value;
  // The set is made only when a value needs converting: a default parameter would allocate one on every call.
  return convert(value, depth, seen ?? new Set());
}

function convert(value: unknown, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return convert((value as { toJSON(): unknown }).toJSON(), depth + 1, seen);
    if (Array.isArray(value) || value instanceof Set) return Array.from(value as Iterable<unknown>, (v) => convert(v, depth + 1, seen) ?? null);
    const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const plain = convert(v, depth + 1, seen);
      if (plain === undefined) continue;
      if (k === '__proto__') Object.defineProperty(out, k, { value: plain, enumerable: true, writable: true, configurable: true });
      else out[k] = plain;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`).join(',')}}`;
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
  const quickEqual = (a: unknown, b: unknown, noise: PathSet | undefined) => (exact && (noise === undefined || noise.size === 0) ? plainEqual(a, b, 0) : undefined);
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
  function walk(a: unknown, b: unknown, path: Segment[], noise: PathSet | undefined, result: Comparison & { limit?: number }): void {
    if (isIgnored(path, noise)) return;
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

  function record(a: unknown, b: unknown, path: Segment[], result: Comparison & { limit?: number }): void {
    result.equal = false;
    result.differences++;
    if (result.diffs.length >= (result.limit ?? maxDiffs)) return;
    const at = [...path];
    const entry: DiffEntry = { path: formatPath(at) };
    if (a !== undefined) entry.old = shown(a, at);
    if (b !== undefined) entry.new = shown(b, at);
    result.diffs.push(entry);
  }

  return {
    /** Compares two outputs; `noise` adds learned paths to the ignored ones. */
    compare(oldValue: unknown, newValue: unknown, noise?: PathSet): Comparison {
      const result: Comparison = { equal: true, differences: 0, diffs: [] };
      if (quickEqual(oldValue, newValue, noise) === true) return result;
      walk(toPlain(oldValue), toPlain(newValue), [], noise, result);
      return result;
    },

    /** Equal or not, without building a diff (for when no sample will be kept). */
    equal(oldValue: unknown, newValue: unknown, noise?: PathSet): boolean {
      const quick = quickEqual(oldValue, newValue, noise);
      if (quick !== undefined) return quick;
      const result = { equal: true, differences: 0, diffs: [], limit: 0 };
      walk(toPlain(oldValue), toPlain(newValue), [], noise, result);
      return result.equal;
    },

    /** The generalised paths at which two runs of the same path differ: noise to ignore from now on. */
    noiseBetween(first: unknown, second: unknown, noise?: PathSet): Segment[][] {
      const paths: Segment[][] = [];
      const collect: Comparison = { equal: true, differences: 0, diffs: [] };
      const seen = new Set<string>();
      const visit = (a: unknown, b: unknown, path: Segment[]): void => {
        if (isIgnored(path, noise)) return;
        const bothContainers = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
        if (!bothContainers) {
          const probe: Comparison = { ...collect, diffs: [] };
          walk(a, b, path, noise, probe);
          if (!probe.equal) {
            const general = generalise(path);
            const text = formatPath(general);
            if (!seen.has(text)) {
              seen.add(text);
              paths.push(general);
            }
          }
          return;
        }
        const keys = Array.isArray(a) ? [...Array(Math.max(a.length, (b as unknown[]).length)).keys()] : [...new Set([...Object.keys(a), ...Object.keys(b)])];
        for (const k of keys) visit((a as Record<string | number, unknown>)[k], (b as Record<string | number, unknown>)[k], [...path, k]);
      };
      visit(toPlain(first), toPlain(second), []);
      return paths;
    },
  };
}

export type Comparator = ReturnType<typeof createComparator>;
