/**
 * `npm run soak`: 100 SDKs send 50,000 messages a second for ten minutes to
 * one server on an embedded database (started as `npm start` starts it).
 * Every 10 s it prints the rate sent and the rate the server committed (an
 * interval under 80 % of the rate sent is counted as a stall), the report
 * round-trip percentiles, the server's RSS and that of the SDKs' own process
 * (one message in ten is settled by another SDK, so the receiving SDK's
 * remembered ids must stay bounded); at the end a chart of RSS over time and
 * the reconciliation: every message received and processed exactly once, none lost.
 * `--minutes`, `--seconds`, `--rate`, `--sdks` change the load; exit 1 when
 * the reconciliation does not hold.
 *
 * It also samples the database's size on disk (file, WAL) and its ledger rows
 * every 10 s, charts them and writes them to `test-results/soak/size.csv` and
 * `.json` (`--out DIR`): under retention the size must level off, not grow.
 * The server keeps settled ids `--settled-minutes` (5; the product's default
 * is 60) so that a 30-minute run reaches the steady state; `--retention-seconds`
 * sweeps more often than once a minute (the miniature in `npm test` forces
 * retention to run while it sends).
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createClient as createDb } from '@libsql/client';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { startServer } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { percentile } from '../bench/stats.ts';

/** What the sampler thread (sampler.mjs) answers: ledger rows, count rows, messages committed, and its read's ms. */
interface Sample {
  ledger: number;
  counts: number;
  committed: number;
  ms: number;
}

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const seconds = process.argv.includes('--seconds') ? arg('seconds', 600) : arg('minutes', 10) * 60;
const rate = arg('rate', 50_000);
const sdks = arg('sdks', 100);
const settledMinutes = arg('settled-minutes', 5);
const retentionSeconds = arg('retention-seconds', 60);
const outDir = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : 'test-results/soak';
const ADMIN = 'soak-admin-key-0123456789abcdefghijklmnopq';
const TICK_MS = 20;
/**
 * Ids settled by another SDK that each SDK keeps (maxRememberedIds): a service runs one SDK, whose default
 * of 100,000 would here be 10 million ids in one process; 5,000 is 100 s of this soak's per SDK.
 */
const REMEMBERED = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const fileMb = (path: string) => {
  try {
    return statSync(path).size / 1024 / 1024;
  } catch {
    return 0;
  }
};

function chart(values: number[], height = 8, width = 60): string {
  const step = Math.max(1, Math.ceil(values.length / width));
  const cols = Array.from({ length: Math.ceil(values.length / step) }, (_, i) => Math.max(...values.slice(i * step, (i + 1) * step)));
  const max = Math.max(...cols);
  const min = Math.min(...cols);
  const lines: string[] = [];
  for (let row = height; row >= 1; row--) {
    const threshold = min + ((max - min) * (row - 0.5)) / height;
    const label = row === height ? `${max.toFixed(0).padStart(5)} MB ┤` : row === 1 ? `${min.toFixed(0).padStart(5)} MB ┤` : '         │';
    lines.push(label + cols.map((v) => (v >= threshold ? '█' : ' ')).join(''));
  }
  lines.push(`         └${'─'.repeat(cols.length)} ${seconds} s`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { url: dbUrl, dir } = tempDatabaseUrl();
  const dbPath = dbUrl.slice('file:'.length);
  const server = await startServer({
    ROLLCALL_DB_URL: dbUrl,
    ROLLCALL_ADMIN_KEY: ADMIN,
    ROLLCALL_SETTLED_RETENTION_SECONDS: String(Math.round(settledMinutes * 60)),
    ROLLCALL_RETENTION_INTERVAL_SECONDS: String(retentionSeconds),
  });
  // The per-interval counts are read on a thread of its own (sampler.mjs): never on the thread that sends.
  const sampler = new Worker(new URL('./sampler.mjs', import.meta.url), { workerData: { path: dbPath } });
  const sample = () =>
    new Promise<Sample>((resolve, reject) => {
      sampler.once('error', reject);
      sampler.once('message', (rows: Sample) => {
        sampler.off('error', reject);
        resolve(rows);
      });
      sampler.postMessage('sample');
    });
  let slowestSample = 0;
  const api = async (method: string, path: string, body?: unknown) =>
    (await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;
  const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'soak' })).key as string;
  await api('POST', '/v1/rollouts', { key: 'soak', plan: [{ live: 50 }], guards: { graceSeconds: 30, windowSeconds: 600 } });
  await api('POST', '/v1/rollouts/soak/start');

  const latencies: number[] = [];
  const timedFetch: typeof fetch = async (input, init) => {
    const started = performance.now();
    const res = await fetch(input, init);
    if (String(input).endsWith('/v1/sdk/reports')) latencies.push(performance.now() - started);
    return res;
  };
  const quiet = { warn() {}, error() {} };
  const clients: RollcallClient[] = Array.from({ length: sdks }, () => createClient({ url: server.url, sdkKey, flushIntervalMs: 1_000, logger: quiet, fetch: timedFetch, maxBufferedEvents: 50_000, maxRememberedIds: REMEMBERED }));
  await Promise.all(clients.map((c) => c.ready()));
  console.log(`soak: ${sdks} SDKs, ${rate.toLocaleString()} messages/s for ${seconds} s against ${server.url} (server pid ${server.child.pid})`);

  const sent = { received: 0, processed: 0 };
  let seq = 0;
  let skipped = 0;
  const trafficStarted = performance.now();
  const traffic = setInterval(() => {
    // Paced by the clock, not by the timer's count: a late tick sends what is due, but at most
    // a quarter second's worth. On a busy machine an unbounded catch-up blocked this process for
    // seconds, its SDKs' sends with it, and the run never recovered; the rate printed is the one held.
    const due = Math.floor(((performance.now() - trafficStarted) / 1000) * rate) - skipped;
    const burst = Math.ceil(rate / 4);
    if (due - seq > burst) skipped += due - seq - burst;
    for (let n = Math.min(due - seq, burst); n > 0; n--) {
      const c = seq % sdks;
      const message = { partnerId: `partner-${seq % 20_000}`, messageId: `soak-${seq}` };
      clients[c]!.received('soak', message);
      // One in ten is processed by another instance, as a second service would: it travels by id.
      clients[seq % 10 === 0 ? (c + 1) % sdks : c]!.processed('soak', message);
      sent.received++;
      sent.processed++;
      seq++;
    }
  }, TICK_MS);

  const rss: number[] = [];
  let slowest = 0;
  // What the server committed per interval, beside what was sent: an interval under 80 % of the offered rate is a stall.
  let lastCommitted = 0;
  const slow: number[] = [];
  const sizes: { s: number; sent: number; dbMb: number; walMb: number; ledgerRows: number; countRows: number; rssMb: number; sdksRssMb: number }[] = [];
  const started = performance.now();
  let lastSent = 0;
  const every = Math.min(10, seconds);
  for (let elapsed = every; elapsed <= seconds; elapsed += every) {
    const until = started + elapsed * 1000;
    while (performance.now() < until) {
      await sleep(Math.min(1_000, until - performance.now()));
      rss.push(rssMb(server.child.pid!));
    }
    const window = latencies.splice(0);
    slowest = Math.max(slowest, ...window);
    const line = window.length === 0 ? 'no reports' : `reports p50 ${percentile(window, 50).toFixed(1)} ms, p99 ${percentile(window, 99).toFixed(1)} ms, max ${Math.max(...window).toFixed(1)} ms`;
    const rows = await sample();
    slowestSample = Math.max(slowestSample, rows.ms);
    const committed = rows.committed;
    const committedRate = Math.round((committed - lastCommitted) / every);
    const sentRate = Math.round((sent.received - lastSent) / every);
    lastCommitted = committed;
    if (elapsed > every && committedRate < 0.8 * sentRate) slow.push(elapsed);
    const size = { s: elapsed, sent: sent.received, dbMb: fileMb(dbPath), walMb: fileMb(`${dbPath}-wal`), ledgerRows: rows.ledger, countRows: rows.counts, rssMb: rss[rss.length - 1]!, sdksRssMb: process.memoryUsage().rss / 1024 / 1024 };
    sizes.push(size);
    console.log(
      `  ${String(elapsed).padStart(4)} s  ${sentRate.toLocaleString().padStart(7)} msg/s, committed ${committedRate.toLocaleString().padStart(7)} msg/s  RSS ${size.rssMb.toFixed(0)} MB (SDKs ${size.sdksRssMb.toFixed(0)} MB)  db ${size.dbMb.toFixed(0)} MB + WAL ${size.walMb.toFixed(0)} MB, ${size.ledgerRows.toLocaleString()} ledger rows  ${line}`,
    );
    lastSent = sent.received;
  }
  if (seconds % every !== 0) await sleep((seconds % every) * 1000);
  clearInterval(traffic);
  const peakLedger = Math.max(...sizes.map((z) => z.ledgerRows));
  console.log(`ledger rows: peak ${peakLedger.toLocaleString()}, at the end ${sizes.at(-1)!.ledgerRows.toLocaleString()} (settled ids kept ${settledMinutes} min, retention every ${retentionSeconds} s); slowest report round trip ${slowest.toFixed(0)} ms`);
  // The first interval is left out: the SDKs' first reports land in the next one.
  console.log(`${slow.length} of ${sizes.length - 1} intervals after the first committed under 80 % of the rate sent${slow.length === 0 ? '' : ` (at ${slow.join(', ')} s)`}`);
  // The SDKs' own process: remembered ids are bounded (sdk in-flight.ts), so it levels off as the server's does.
  const sdksRss = sizes.map((z) => z.sdksRssMb);
  console.log(`the SDKs' process: RSS ${sdksRss.at(-1)!.toFixed(0)} MB at the end, at most ${Math.max(...sdksRss).toFixed(0)} MB (${sdks} SDKs in one process)`);
  console.log(`slowest read of these counts ${slowestSample.toFixed(0)} ms (on a thread of its own, not the sender's)`);
  if (skipped > 0) console.log(`the generator fell behind: ${skipped.toLocaleString()} messages not sent (the machine could not generate ${rate.toLocaleString()}/s)`);

  // Housekeeping must not stall ingest: the server's own figures for report commits while retention swept.
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const metric = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, "\\$&")} ([\\d.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const sweeps = metric('rollcall_retention_sweep_seconds_count');
  console.log(
    `server: longest report commit (arrival to commit) while retention swept ${(metric('rollcall_ingest_batch_max_seconds{during="retention"}') * 1000).toFixed(0)} ms, otherwise ${(metric('rollcall_ingest_batch_max_seconds{during="otherwise"}') * 1000).toFixed(0)} ms; ` +
      `${sweeps} sweeps, ${metric('rollcall_retention_rows_total{rule="settled"}').toLocaleString()} settled ids removed, longest retention statement ${(metric('rollcall_retention_statement_max_seconds') * 1000).toFixed(0)} ms`,
  );

  // Everything still buffered goes out; then reconcile against the database file.
  const deadline = performance.now() + 60_000;
  while (clients.some((c) => c.status.buffered > 0) && performance.now() < deadline) {
    await Promise.all(clients.map((c) => c.flush()));
    await sleep(200);
  }
  const db = createDb({ url: dbUrl });
  const counts = (await db.execute('SELECT coalesce(sum(received), 0) received, coalesce(sum(processed), 0) processed, coalesce(sum(dropped), 0) dropped FROM cohort_counts')).rows[0]!;
  const open = Number((await db.execute("SELECT count(*) n FROM messages WHERE status IN ('open', 'lost')")).rows[0]!.n);
  db.close();
  const got = { received: Number(counts.received), processed: Number(counts.processed), dropped: Number(counts.dropped) };
  sampler.postMessage('close');
  console.log(`\nserver RSS over the run (max of each column):\n${chart(rss)}`);
  console.log(`\ndatabase on disk (file + WAL) over the run, settled ids kept ${settledMinutes} min:\n${chart(sizes.map((z) => z.dbMb + z.walMb))}`);
  console.log('\n  minute   db MB   WAL MB   ledger rows   count rows');
  for (const z of sizes.filter((z, i) => z.s % 60 === 0 || i === sizes.length - 1)) {
    console.log(`  ${(z.s / 60).toFixed(1).padStart(6)} ${z.dbMb.toFixed(1).padStart(7)} ${z.walMb.toFixed(1).padStart(8)} ${z.ledgerRows.toLocaleString().padStart(13)} ${z.countRows.toLocaleString().padStart(12)}`);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'size.json'), JSON.stringify({ rate, sdks, seconds, settledMinutes, samples: sizes }, null, 1));
  writeFileSync(join(outDir, 'size.csv'), ['seconds,sent,db_mb,wal_mb,ledger_rows,count_rows,rss_mb,sdks_rss_mb', ...sizes.map((z) => [z.s, z.sent, z.dbMb.toFixed(2), z.walMb.toFixed(2), z.ledgerRows, z.countRows, z.rssMb.toFixed(1), z.sdksRssMb.toFixed(1)].join(','))].join('\n') + '\n');
  console.log(`sizes written to ${join(outDir, 'size.csv')} and size.json`);
  console.log(`\nreconciliation: sent ${sent.received.toLocaleString()} received / ${sent.processed.toLocaleString()} processed; counted ${got.received.toLocaleString()} / ${got.processed.toLocaleString()}; dropped ${got.dropped}; open or lost ids ${open}`);
  const ok = got.received === sent.received && got.processed === sent.processed && got.dropped === 0 && open === 0;
  console.log(ok ? 'zero lost, zero counted twice' : 'RECONCILIATION FAILED');
  await Promise.all(clients.map((c) => c.close()));
  await server.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  process.exit(ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
