/**
 * Plain data for comparison: a one-pass equality for values that are plain
 * already, and the conversion of anything else (dates, maps, sets, cycles)
 * into plain JSON-like data.
 */
const MAX_DEPTH = 64;

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
export function plainEqual(a: unknown, b: unknown, depth: number): boolean | undefined {
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

export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
