/**
 * Every option `createClient` takes, checked before anything starts: a wrong
 * value throws a `TypeError` naming the option and what it accepts, rather
 * than looping, never firing, or running out of memory later (a batch of 0
 * events never fills). Durations are milliseconds unless the name says
 * otherwise; counts are whole numbers.
 */
import type { ClientOptions } from './options.ts';

/** What a value must be, as said in the error, and the test. */
type Rule = [accepts: string, ok: (value: unknown) => boolean];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (min: number, max: number, whole = false): Rule => [
  `${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`,
  (v) => typeof v === 'number' && v >= min && v <= max && (!whole || Number.isInteger(v)),
];
const STRING: Rule = ['a non-empty string', (v) => typeof v === 'string' && v !== ''];
const OBJECT: Rule = ['an object', isObject];
const COMPARE: Rule = ['an object whose learnNoise is from 0 to 1', (v) => isObject(v) && (v.learnNoise === undefined || (typeof v.learnNoise === 'number' && v.learnNoise >= 0 && v.learnNoise <= 1))];
/** URL.canParse is newer than Node 18.0. */
function parses(url: string): boolean {
  try {
    return new URL(url).host !== '';
  } catch {
    return false;
  }
}
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const RULES: Record<string, Rule> = {
  url: ['an http:// or https:// URL', (v) => typeof v === 'string' && /^https?:\/\/[^/\s]+/.test(v) && parses(v)],
  sdkKey: STRING,
  bootstrap: OBJECT,
  backupPath: STRING,
  flushIntervalMs: num(10, HOUR),
  fetch: ['a function', (v) => typeof v === 'function'],
  initTimeoutMs: num(0, 600_000),
  logger: ['an object with warn() and error()', (v) => isObject(v) && typeof v.warn === 'function' && typeof v.error === 'function'],
  failClosedAfterMs: num(1, 30 * DAY),
  stream: ['true or false', (v) => typeof v === 'boolean'],
  pollIntervalMs: num(100, DAY),
  reportTimeoutMs: num(10, 600_000),
  maxBufferedEvents: num(1, 10_000_000, true),
  maxRememberedIds: num(0, 100_000_000, true),
  maxBatchEvents: num(1, 1_000_000, true),
  // Two at least: the batch being posted, and one that counts merge into meanwhile.
  maxQueuedBatches: num(2, 100_000, true),
  maxQueuedBytes: num(65_536, 1_073_741_824, true),
  compare: COMPARE,
  compareByRollout: ['an object of compare options by rollout key', (v) => isObject(v) && Object.values(v).every(COMPARE[1])],
  shadowTimeoutMs: num(0, HOUR),
  maxConcurrentComparisons: num(0, 10_000_000, true),
  reconnect: OBJECT,
  'reconnect.firstMs': num(1, HOUR),
  'reconnect.maxMs': num(1, DAY),
  retry: OBJECT,
  'retry.firstMs': num(1, HOUR),
  'retry.maxMs': num(1, DAY),
  replay: OBJECT,
  'replay.intervalMs': num(10, DAY),
  // The server grants leases of 5 s to an hour.
  'replay.leaseSeconds': num(5, 3_600, true),
  'replay.concurrency': num(1, 1_000, true),
};
const REQUIRED = new Set(['url', 'sdkKey']);

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? typeof v : String(v);
}

export function validateOptions(options: ClientOptions): void {
  if (!isObject(options)) throw new TypeError('rollcall: createClient takes an options object ({ url, sdkKey, … })');
  for (const [name, [accepts, ok]] of Object.entries(RULES)) {
    const [head, tail] = name.split('.') as [string, string | undefined];
    const outer = (options as Record<string, unknown>)[head];
    const value = tail === undefined ? outer : isObject(outer) ? outer[tail] : undefined;
    if (value === undefined && !REQUIRED.has(name)) continue;
    if (!ok(value)) throw new TypeError(`rollcall: option ${name} must be ${accepts} (got ${shown(value)})`);
  }
  for (const group of ['reconnect', 'retry'] as const) {
    const { firstMs, maxMs } = options[group] ?? {};
    if (firstMs !== undefined && maxMs !== undefined && maxMs < firstMs) throw new TypeError(`rollcall: option ${group}.maxMs must be at least ${group}.firstMs (got ${maxMs} < ${firstMs})`);
  }
}
