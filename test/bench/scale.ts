/**
 * `npm run bench -- --scale`: Rollcall at scale, beside the embedded figures
 * of the same run. Ingest and revert on a real libsql server (sqld, started
 * here, a fresh one per figure) with 1 and 3 Rollcall server processes and
 * the SDKs spread over them; one controller pass over 1,000 running
 * rollouts (embedded and sqld); the rollout page and /health over a ledger
 * of 10 million rows with a bad mix; bytes on disk per million messages.
 * The controller pass and the ledger are also measured at a tenth of their
 * size (100 rollouts, 1M rows), and the growth from there is printed against
 * the ≤ 2× target: the control loop must cost what is open, not what flowed.
 * `--quick` runs a small version of each (by `npm test`, so it never rots).
 * `ROLLCALL_SCALE_PARTS=tick,ledger` runs only the parts named (ingest,
 * revert, tick, tick-sqld, ledger), to iterate on one; a run that skips any
 * writes no JSON.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { startSqld } from '../helpers/sqld.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { measureIngest, measureRevert } from './accounting.ts';
import { measureDashboard } from './dashboard.ts';
import { progress, round } from './stats.ts';
import { measureTick } from './tick.ts';

interface Row {
  figure: string;
  value: number;
  unit: string;
  target: string;
  met: boolean | null;
  context: string;
}

/** Runs `fn` against a fresh sqld, stopped afterwards whatever happens. */
async function onSqld<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const sqld = await startSqld();
  try {
    return await fn(sqld.url);
  } finally {
    await sqld.stop();
  }
}

async function onFile<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const { url, dir } = tempDatabaseUrl();
  try {
    return await fn(url);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runScale(quick: boolean): Promise<void> {
  const started = performance.now();
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stderr.write(`rollcall bench --scale (${quick ? 'quick' : 'full'}), ${cpus().length} cores, node ${process.version}, load ${load()}\n`);
  const ingestRun = { clients: quick ? 3 : 21, seconds: quick ? 1 : 10, rounds: quick ? 1 : 3 };
  const revertRun = { clients: quick ? 6 : 100, trials: quick ? 1 : 5 };
  const tickRun = { rollouts: quick ? 10 : 1_000, ticks: quick ? 2 : 20 };
  const ledgerRun = { rows: quick ? 20_000 : 10_000_000, samples: quick ? 2 : 11 };
  const parts = new Set((process.env.ROLLCALL_SCALE_PARTS ?? 'ingest,revert,tick,tick-sqld,ledger').split(','));
  const skipped = ['ingest', 'revert', 'tick', 'tick-sqld', 'ledger'].filter((part) => !parts.has(part));
  /** A part not asked for is not run; its figures read 0 and the table says so. */
  const part = async <T>(name: string, fn: () => Promise<T>, none: T): Promise<T> => (parts.has(name) ? fn() : none);

  // On sqld the SDKs outrun the server: the figure is what it committed in the traffic and a bounded drain after it.
  const sqldIngestRun = { ...ingestRun, seconds: quick ? 1 : 10, rounds: 1, drainSeconds: quick ? 2 : 10 };
  // Each figure is printed as it is measured, so a long run that is stopped still says something.
  const logged = <T>(name: string, value: T): T => (progress(`${name}: ${JSON.stringify(value)}`), value);
  const noIngest = { ingest_msgs_per_s: 0, commits_per_s: 0, server_rss_mb: 0, settledById: 0, openRowsLeft: 0, messages: 1, db_bytes: null as number | null };
  const noRevert = { revert_p99_ms: 0, revert_p50_ms: 0, revert_trial_p99_median_ms: 0, samples: 0, decided_p50_ms: null as number | null, decided_max_ms: null as number | null };
  const embedded = logged('ingest embedded', await part('ingest', () => measureIngest(ingestRun), noIngest));
  const sqld1 = logged('ingest sqld 1', await part('ingest', () => onSqld((dbUrl) => measureIngest({ ...sqldIngestRun, dbUrl, servers: 1 })), noIngest));
  const sqld3 = logged('ingest sqld 3', await part('ingest', () => onSqld((dbUrl) => measureIngest({ ...sqldIngestRun, dbUrl, servers: 3 })), noIngest));
  const revertEmbedded = logged('revert embedded', await part('revert', () => measureRevert(revertRun), noRevert));
  const revertSqld = logged('revert sqld 3', await part('revert', () => onSqld((dbUrl) => measureRevert({ ...revertRun, dbUrl, servers: 3 })), noRevert));
  const noTick = { tick_p99_ms: 0, tick_p50_ms: 0, tick_cpu_p50_ms: 0, ticks: 0, rollouts: 0, rows_summed: 0, metrics_scrape_ms: 0, metrics_scrape_p99_ms: 0, metrics_scrape_cold_ms: 0, scrapes: 0 };
  // The curve's small end first: a tenth of the rollouts, then of the ledger.
  const tickSmall = logged('tick embedded (a tenth)', await part('tick', () => onFile((dbUrl) => measureTick({ ...tickRun, rollouts: tickRun.rollouts / 10, dbUrl, label: 'embedded, a tenth' })), noTick));
  const tickEmbedded = logged('tick embedded', await part('tick', () => onFile((dbUrl) => measureTick({ ...tickRun, dbUrl, label: 'embedded' })), noTick));
  const tickSqld = logged('tick sqld', await part('tick-sqld', () => onSqld((dbUrl) => measureTick({ ...tickRun, dbUrl, label: 'sqld' })), noTick));
  const noLedger = { dashboard_ms: 0, dashboard_p95_ms: 0, health_ms: 0, health_p95_ms: 0, rows: 0, samples: 0, mix: 'bad' as const };
  const ledgerSmall = logged('ledger (a tenth)', await part('ledger', () => measureDashboard({ ...ledgerRun, rows: ledgerRun.rows / 10, mix: 'bad' }), noLedger));
  const ledger = logged('ledger', await part('ledger', () => measureDashboard({ ...ledgerRun, mix: 'bad' }), noLedger));
  const bytesPerMillion = embedded.db_bytes === null ? 0 : (embedded.db_bytes / embedded.messages) * 1_000_000;

  const figures = {
    ingest_embedded_msgs_per_s: Math.round(embedded.ingest_msgs_per_s),
    ingest_sqld_1_msgs_per_s: Math.round(sqld1.ingest_msgs_per_s),
    ingest_sqld_3_msgs_per_s: Math.round(sqld3.ingest_msgs_per_s),
    revert_embedded_p99_ms: Math.round(revertEmbedded.revert_p99_ms),
    revert_sqld_p99_ms: Math.round(revertSqld.revert_p99_ms),
    tick_embedded_p99_ms: round(tickEmbedded.tick_p99_ms),
    tick_sqld_p99_ms: round(tickSqld.tick_p99_ms),
    metrics_scrape_ms: round(tickEmbedded.metrics_scrape_ms),
    metrics_scrape_sqld_ms: round(tickSqld.metrics_scrape_ms),
    ledger_page_ms: round(ledger.dashboard_ms),
    ledger_health_ms: round(ledger.health_ms),
    tick_embedded_tenth_p99_ms: round(tickSmall.tick_p99_ms),
    ledger_tenth_page_ms: round(ledgerSmall.dashboard_ms),
    ledger_tenth_health_ms: round(ledgerSmall.health_ms),
    tick_growth: tickSmall.tick_p99_ms > 0 ? round(tickEmbedded.tick_p99_ms / tickSmall.tick_p99_ms, 2) : 0,
    ledger_page_growth: ledgerSmall.dashboard_ms > 0 ? round(ledger.dashboard_ms / ledgerSmall.dashboard_ms, 2) : 0,
    ledger_health_growth: ledgerSmall.health_ms > 0 ? round(ledger.health_ms / ledgerSmall.health_ms, 2) : 0,
    db_bytes_per_million_msgs: Math.round(bytesPerMillion),
  };
  const spread = `${ingestRun.clients} SDKs, 1 in 10 settled by another SDK (by id)`;
  const rows: Row[] = [
    { figure: 'ingest_embedded_msgs_per_s', value: figures.ingest_embedded_msgs_per_s, unit: 'msg/s', target: '≥ 100000', met: figures.ingest_embedded_msgs_per_s >= 100_000, context: `1 server, embedded file; ${spread}; peak RSS ${round(embedded.server_rss_mb)} MB` },
    { figure: 'ingest_sqld_msgs_per_s (1)', value: figures.ingest_sqld_1_msgs_per_s, unit: 'msg/s', target: '—', met: null, context: `1 server on sqld: committed over ${sqldIngestRun.seconds} s of traffic + ≤ ${sqldIngestRun.drainSeconds} s of drain; peak RSS ${round(sqld1.server_rss_mb)} MB` },
    { figure: 'ingest_sqld_msgs_per_s (3)', value: figures.ingest_sqld_3_msgs_per_s, unit: 'msg/s', target: '≥ 100000', met: figures.ingest_sqld_3_msgs_per_s >= 100_000, context: `3 servers on one sqld, SDKs spread over them; peak RSS ${round(sqld3.server_rss_mb)} MB` },
    { figure: 'revert_embedded_p99_ms', value: figures.revert_embedded_p99_ms, unit: 'ms', target: '≤ 2000', met: figures.revert_embedded_p99_ms <= 2000, context: `${revertRun.clients} SDKs on 1 server, embedded; p50 ${Math.round(revertEmbedded.revert_p50_ms)} ms over ${revertEmbedded.samples}; decided (audit) after ${revertEmbedded.decided_p50_ms} ms (median), ${revertEmbedded.decided_max_ms} ms at most` },
    { figure: 'revert_sqld_p99_ms', value: figures.revert_sqld_p99_ms, unit: 'ms', target: '≤ 1000', met: figures.revert_sqld_p99_ms <= 1000, context: `${revertRun.clients} SDKs over 3 servers on one sqld; p50 ${Math.round(revertSqld.revert_p50_ms)} ms over ${revertSqld.samples}; decided (audit) after ${revertSqld.decided_p50_ms} ms (median), ${revertSqld.decided_max_ms} ms at most` },
    { figure: 'tick_ms (embedded)', value: figures.tick_embedded_p99_ms, unit: 'ms', target: '≤ 100', met: figures.tick_embedded_p99_ms <= 100, context: `p99 of ${tickEmbedded.ticks} passes over ${tickEmbedded.rollouts} running rollouts × 10 cohorts, ${tickEmbedded.rows_summed.toLocaleString()} count rows in their windows; p50 ${round(tickEmbedded.tick_p50_ms)} ms, CPU ${round(tickEmbedded.tick_cpu_p50_ms)} ms a pass (median)` },
    { figure: 'tick_ms (sqld)', value: figures.tick_sqld_p99_ms, unit: 'ms', target: '≤ 100', met: figures.tick_sqld_p99_ms <= 100, context: `the same on sqld; p50 ${round(tickSqld.tick_p50_ms)} ms` },
    { figure: 'metrics_scrape_ms', value: figures.metrics_scrape_ms, unit: 'ms', target: '≤ 100', met: figures.metrics_scrape_ms <= 100, context: `a /metrics scrape over ${tickEmbedded.rollouts} running rollouts after a controller pass put them on the status board, median of ${tickEmbedded.scrapes}, p99 ${round(tickEmbedded.metrics_scrape_p99_ms)} ms; on sqld ${figures.metrics_scrape_sqld_ms} ms; cold (every rollout judged afresh) ${round(tickEmbedded.metrics_scrape_cold_ms)} ms` },
    { figure: 'ledger_page_ms', value: figures.ledger_page_ms, unit: 'ms', target: '≤ 100', met: figures.ledger_page_ms <= 100, context: `rollout page, ${ledger.rows.toLocaleString()} ledger rows in the window, 25% lost/replayed/late; median of ${ledger.samples}, p95 ${round(ledger.dashboard_p95_ms)} ms` },
    { figure: 'ledger_health_ms', value: figures.ledger_health_ms, unit: 'ms', target: '≤ 100', met: figures.ledger_health_ms <= 100, context: `GET /v1/rollouts/:key/health on the same ledger; p95 ${round(ledger.health_p95_ms)} ms` },
    ...growthRows(tickSmall, tickEmbedded, ledgerSmall, ledger),
    { figure: 'db_bytes_per_million_msgs', value: figures.db_bytes_per_million_msgs, unit: 'B', target: '—', met: null, context: `embedded file + WAL after ${embedded.messages.toLocaleString()} messages of the ingest run (1 in 10 kept by id until retention)` },
  ];

  const pad = (text: string, width: number) => text.padEnd(width);
  console.log(`\n${pad('figure', 30)}${pad('measured', 16)}${pad('target', 12)}${pad('met', 6)}context`);
  for (const row of rows) console.log(`${pad(row.figure, 30)}${pad(`${row.value} ${row.unit}`, 16)}${pad(row.target, 12)}${pad(row.met === null ? '—' : row.met ? 'yes' : 'NO', 6)}${row.context}`);
  console.log(`\n${quick ? 'quick' : 'full'} scale run, ${round((performance.now() - started) / 1000)} s, load average now ${load()}`);

  if (skipped.length > 0) console.log(`parts skipped (ROLLCALL_SCALE_PARTS): ${skipped.join(', ')}; their figures read 0`);
  const out = process.env.ROLLCALL_BENCH_OUT;
  if (out && skipped.length === 0) {
    writeFileSync(out, `${JSON.stringify({ ...figures, mode: quick ? 'quick-scale' : 'scale', measuredAt: new Date().toISOString(), cores: cpus().length, node: process.version }, null, 2)}\n`);
    progress(`figures written to ${out}`);
  }
}

type TickFigures = Awaited<ReturnType<typeof measureTick>>;
type LedgerFigures = Awaited<ReturnType<typeof measureDashboard>>;

/** The curve: each figure at a tenth of the size and at full size, and how much it grew (target ≤ 2×). */
function growthRows(tickSmall: TickFigures, tick: TickFigures, ledgerSmall: LedgerFigures, ledger: LedgerFigures): Row[] {
  const ratio = (small: number, large: number) => (small > 0 ? round(large / small, 2) : 0);
  const row = (figure: string, small: number, large: number, context: string): Row => {
    const value = ratio(small, large);
    return { figure, value, unit: '×', target: '≤ 2', met: small > 0 ? value <= 2 : null, context: `${context}: ${round(small)} → ${round(large)} ms` };
  };
  return [
    row('tick_growth (embedded)', tickSmall.tick_p99_ms, tick.tick_p99_ms, `controller pass p99, ${tickSmall.rollouts} → ${tick.rollouts} running rollouts (p50 ${round(tickSmall.tick_p50_ms)} → ${round(tick.tick_p50_ms)} ms, CPU ${round(tickSmall.tick_cpu_p50_ms)} → ${round(tick.tick_cpu_p50_ms)} ms)`),
    row('ledger_page_growth', ledgerSmall.dashboard_ms, ledger.dashboard_ms, `rollout page median, ${ledgerSmall.rows.toLocaleString()} → ${ledger.rows.toLocaleString()} ledger rows (bad mix)`),
    row('ledger_health_growth', ledgerSmall.health_ms, ledger.health_ms, `/health median, ${ledgerSmall.rows.toLocaleString()} → ${ledger.rows.toLocaleString()} ledger rows (bad mix)`),
  ];
}
