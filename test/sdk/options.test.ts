/** createClient checks every option before anything starts: one case per option, each naming it and what it accepts. */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientOptions } from '../../sdk/src/index.ts';

const base: ClientOptions = { url: 'http://127.0.0.1:9', sdkKey: 'rc_sdk_test', stream: false, fetch: () => Promise.reject(new TypeError('offline')), logger: { warn() {}, error() {} } };

/** Each option with values it refuses and one it takes. */
const CASES: [string, unknown[], unknown][] = [
  ['url', ['', 'not a url', 'ftp://example.com', 42, undefined], 'https://rollcall.example.com/'],
  ['sdkKey', ['', 7, undefined], 'rc_sdk_x'],
  ['bootstrap', ['snapshot', 5, null], undefined],
  ['backupPath', ['', 3], '/tmp/rollcall-backup.json'],
  ['flushIntervalMs', [0, -1, Number.NaN, Infinity, '1000', 5], 1_000],
  ['fetch', ['fetch', {}], globalThis.fetch],
  ['initTimeoutMs', [-1, Number.NaN, '5'], 0],
  ['logger', [console.log, {}, { warn() {} }], { warn() {}, error() {} }],
  ['failClosedAfterMs', [0, -5, Number.NaN], 60_000],
  ['stream', ['yes', 1], true],
  ['pollIntervalMs', [0, 10, Number.NaN], 30_000],
  ['reportTimeoutMs', [0, -1, '10s'], 10_000],
  ['maxBufferedEvents', [0, -1, 1.5, Number.NaN, '10'], 10],
  ['maxBatchEvents', [0, -1, 2.5, Number.NaN], 5],
  ['maxQueuedBatches', [0, 1, 2.5, Number.NaN, '100'], 2],
  ['maxQueuedBytes', [0, 1_000, 65_536.5, Number.NaN, Infinity], 65_536],
  ['compare', ['loose', { learnNoise: 2 }, { learnNoise: -0.1 }], { learnNoise: 0.5 }],
  ['compareByRollout', [5, { r: { learnNoise: 'x' } }], { r: { learnNoise: 0.1 } }],
  ['shadowTimeoutMs', [-1, Number.NaN, '1s'], 0],
  ['maxConcurrentComparisons', [-1, 0.5, Number.NaN], 0],
  ['reconnect', ['fast', { firstMs: 0 }, { firstMs: 100, maxMs: 50 }, { maxMs: Number.NaN }], { firstMs: 100, maxMs: 1_000 }],
  ['retry', [3, { firstMs: -1 }, { firstMs: 500, maxMs: 100 }], { firstMs: 100, maxMs: 1_000 }],
  ['replay', ['x', { intervalMs: 0 }, { leaseSeconds: 0.5 }, { leaseSeconds: 4 }, { concurrency: 0 }], { intervalMs: 1_000, leaseSeconds: 30, concurrency: 2 }],
];

describe('createClient checks its options', () => {
  for (const [name, refused, taken] of CASES) {
    it(`refuses a bad ${name} with a TypeError naming it, and takes a good one`, async () => {
      for (const value of refused) {
        expect(() => createClient({ ...base, [name]: value } as ClientOptions), `${name}: ${String(value)}`).toThrow(TypeError);
        expect(() => createClient({ ...base, [name]: value } as ClientOptions)).toThrow(new RegExp(`option ${name.replace('.', '\\.')}[.a-zA-Z]* must be`));
      }
      const rc = createClient({ ...base, [name]: taken } as ClientOptions);
      await rc.close();
    });
  }

  it('refuses something that is not an options object', () => {
    expect(() => createClient(undefined as unknown as ClientOptions)).toThrow(TypeError);
    expect(() => createClient('http://x' as unknown as ClientOptions)).toThrow(/takes an options object/);
  });

  it('stops a batch of zero events before it can loop', () => {
    expect(() => createClient({ ...base, maxBatchEvents: 0 })).toThrow('rollcall: option maxBatchEvents must be a whole number from 1 to 1000000 (got 0)');
  });
});
