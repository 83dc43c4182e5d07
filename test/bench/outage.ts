/**
 * The SDK's send queue through a server outage, in its own process (node
 * --expose-gc), with the SDK's real reporter and a real server:
 *
 * - `memory`: 3 hours of windows (one a second) with 50 busy rollouts, every
 *   send failing: the heap the queue adds and what it holds. Before the queue
 *   was bounded, 5 rollouts queued 10,805 batches and 47.8 MB.
 * - `catchup`: a 2-minute outage at 5,000 msg/s (1 in 500 failing, so ids
 *   travel too), then the server is back: how long from its return until
 *   every report is acknowledged, in how many posts, and whether the server
 *   counted every message.
 *
 * Windows are sealed back to back rather than a second apart: the queue's
 * size depends on what was sealed, not on when. Prints one JSON line.
 */
import { createClient as createDbClient } from '@libsql/client';
import { createReporter, type Cell } from '../../sdk/src/reporting/reporter.ts';
import { startServer } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { rmSync } from 'node:fs';

const ADMIN = 'bench-admin-key-0123456789abcdefghijklmnop';
const gc = (globalThis as { gc?: () => void }).gc!;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const MB = 1024 * 1024;
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Outage {
  up: boolean;
  posts: number;
  /** performance.now() of the first post that reached the server. */
  firstPostAt: number | null;
  fetch: typeof fetch;
}

function outage(): Outage {
  const state: Outage = {
    up: false,
    posts: 0,
    firstPostAt: null,
    fetch: async (input, init) => {
      if (!state.up) throw new TypeError('fetch failed: connect ECONNREFUSED');
      state.posts++;
      state.firstPostAt ??= performance.now();
      return fetch(input, init);
    },
  };
  return state;
}

function reporterFor(url: string, sdkKey: string, o: Outage) {
  return createReporter({
    url,
    sdkKey,
    fetch: o.fetch,
    sdk: { name: 'bench-outage', version: '0', instanceId: `outage-${process.pid}` },
    maxBufferedEvents: 10_000,
    maxBatchEvents: 5_000,
    maxQueuedBatches: 100,
    maxQueuedBytes: 8 * MB,
    maxSamplesPerWindow: 20,
    reportTimeoutMs: 10_000,
    // The client's defaults.
    retryFirstMs: 1_000,
    retryMaxMs: 30_000,
    onError() {},
    onDropped() {},
  });
}

async function memory(seconds: number, rollouts: number) {
  const o = outage();
  const reporter = reporterFor('http://127.0.0.1:9', 'rc_sdk_outage', o);
  const cells: Cell[] = [];
  for (let r = 0; r < rollouts; r++) cells.push(reporter.cell(`busy-${r}`, 'c1', 'new'), reporter.cell(`busy-${r}`, 'baseline', 'old'), reporter.cell(`busy-${r}`, 'shadow', 'shadow'));
  const before = heap();
  let id = 0;
  for (let second = 0; second < seconds; second++) {
    for (const cell of cells) {
      // Ten messages a second in each cell, one comparison in the shadow one; one failure a second travels by id.
      for (let k = 0; k < 10; k++) reporter.settle(reporter.begin(cell, `m${id++}`, 'p', performance.now()), true, performance.now());
      if (cell.path === 'shadow') reporter.compared(cell, null, 1, null);
    }
    reporter.settle(reporter.begin(cells[second % cells.length]!, `f${id++}`, 'p', performance.now()), false, performance.now(), 'boom');
    await reporter.flush();
    if (second % 1800 === 0) log(`outage memory: ${second / 3600} h of ${seconds / 3600} h sealed, ${Math.round(reporter.queuedBytes / 1024)} kB queued`);
  }
  const after = heap();
  return { outage_heap_mb: (after - before) / MB, outage_queued_kb: reporter.queuedBytes / 1024, outage_pending: reporter.pending, outage_windows: seconds, outage_rollouts: rollouts };
}

async function catchup(seconds: number, rate: number) {
  const temp = tempDatabaseUrl();
  const server = await startServer({ ROLLCALL_DB_URL: temp.url, ROLLCALL_ADMIN_KEY: ADMIN }, 60_000);
  const api = async (method: string, path: string, body?: unknown) =>
    (await (await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json()) as any;
  try {
    const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'outage' })).key as string;
    const keys = Array.from({ length: 5 }, (_, r) => `catchup-${r}`);
    for (const key of keys) {
      await api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }], guards: { graceSeconds: 600, windowSeconds: 3600 } });
      await api('POST', `/v1/rollouts/${key}/start`);
    }
    const o = outage();
    const reporter = reporterFor(server.url, sdkKey, o);
    const cells = keys.flatMap((key) => [reporter.cell(key, 'c1', 'new'), reporter.cell(key, 'baseline', 'old')]);
    let handed = 0;
    for (let second = 0; second < seconds; second++) {
      for (let k = 0; k < rate; k++) {
        const cell = cells[k % cells.length]!;
        reporter.settle(reporter.begin(cell, `s${second}-${k}`, `p${k % 97}`, performance.now()), k % 500 !== 0, performance.now());
        handed++;
      }
      await reporter.flush();
    }
    const queued = { batches: reporter.pending, kb: reporter.queuedBytes / 1024 };
    o.up = true;
    const back = performance.now();
    // As the client does, a flush a second; the backlog goes out at the first retry the backoff allows.
    while (!((await reporter.flush()) && reporter.pending === 0)) await new Promise((resolve) => setTimeout(resolve, 1_000));
    const done = performance.now();
    const firstPost = o.firstPostAt ?? done;
    const db = createDbClient({ url: temp.url });
    const counted = Number((await db.execute('SELECT coalesce(sum(received), 0) AS n FROM cohort_counts')).rows[0]!.n);
    db.close();
    return {
      catchup_ms: done - back,
      catchup_retry_wait_ms: firstPost - back,
      catchup_drain_ms: done - firstPost,
      catchup_posts: o.posts,
      catchup_queued_batches: queued.batches,
      catchup_queued_kb: queued.kb,
      catchup_messages: handed,
      catchup_counted: counted,
    };
  } finally {
    await server.stop('SIGTERM');
    rmSync(temp.dir, { recursive: true, force: true });
  }
}

async function main() {
  const quick = process.argv.includes('--quick');
  const m = await memory(quick ? 600 : 3 * 3600, 50);
  log(`outage memory: heap +${m.outage_heap_mb.toFixed(2)} MB, ${m.outage_queued_kb.toFixed(1)} kB queued in ${m.outage_pending} pending`);
  const c = await catchup(quick ? 10 : 120, quick ? 1_000 : 5_000);
  log(`catch-up: ${Math.round(c.catchup_ms)} ms after the server's return (${Math.round(c.catchup_retry_wait_ms)} ms of it waiting out the retry's backoff, then ${Math.round(c.catchup_drain_ms)} ms), ${c.catchup_posts} posts, ${c.catchup_counted} of ${c.catchup_messages} counted`);
  console.log(JSON.stringify({ ...m, ...c }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
