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
 * `ROLLCALL_SCALE_ONLY=ingest,revert` (any of ingest, revert, tick, ledger)
 * measures only those parts, while iterating; a full run measures them all.
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
  /** The figure's name in the JSON output, when the table's differs. */
  key?: string;
  value: number;
  unit: string;
  target: string;
  met: boolean | null;
  context: string;
}

/** Runs `fn` against a fresh sqld (its url and process id), stopped afterwards whatever happens. */
async function onSqld<T>(fn: (url: string, pid: number) => Promise<T>): Promise<T> {
  const sqld = await startSqld();
  try {
    return await fn(sqld.url, sqld.child.pid!);
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

  // On sqld the SDKs outrun the server: the figure is what it committed in the traffic and a bounded drain after it.
  const sqldIngestRun = { ...ingestRun, seconds: quick ? 1 : 10, rounds: 1, drainSeconds: quick ? 2 : 10 };
  // Each figure is printed as it is measured, so a long run that is stopped still says something.
  const logged = <T>(name: string, value: T): T => (progress(`${name}: ${JSON.stringify(value)}`), value);
  const only = process.env.ROLLCALL_SCALE_ONLY?.split(',').map((part) => part.trim());
  const wanted = (part: 'ingest' | 'revert' | 'tick' | 'ledger') => only === undefined || only.includes(part);
  const figures: Record<string, number> = {};
  const rows: Row[] = [];
  const add = (row: Row) => {
    figures[row.key ?? row.figure] = row.value;
    rows.push(row);
  };

  if (wanted('ingest')) {
    const embedded = logged('ingest embedded', await measureIngest(ingestRun));
    // CPU per message counts every process that does the work: the servers, and sqld beside them.
    const sqld1 = logged('ingest sqld 1', await onSqld((dbUrl, pid) => measureIngest({ ...sqldIngestRun, dbUrl, servers: 1, cpuPids: [pid] })));
    const sqld3 = logged('ingest sqld 3', await onSqld((dbUrl, pid) => measureIngest({ ...sqldIngestRun, dbUrl, servers: 3, cpuPids: [pid] })));
    const spread = `${ingestRun.clients} SDKs, 1 in 10 settled by another SDK (by id)`;
    // On sqld, the servers' share of the CPU beside sqld's.
    const perCpu = (run: { msgs_per_cpu_s: number; cpu_s: number; server_cpu_s: number }) =>
      `${Math.round(run.msgs_per_cpu_s).toLocaleString()} msg per CPU-s (${round(run.cpu_s)} CPU-s${run.server_cpu_s < run.cpu_s ? `, servers ${round(run.server_cpu_s)}` : ''})`;
    const ratio = round(sqld3.msgs_per_cpu_s / embedded.msgs_per_cpu_s, 2);
    add({ figure: 'ingest_embedded_msgs_per_s', value: Math.round(embedded.ingest_msgs_per_s), unit: 'msg/s', target: '≥ 100000', met: embedded.ingest_msgs_per_s >= 100_000, context: `1 server, embedded file; ${spread}; peak RSS ${round(embedded.server_rss_mb)} MB; ${perCpu(embedded)}` });
    add({ figure: 'ingest_sqld_msgs_per_s (1)', key: 'ingest_sqld_1_msgs_per_s', value: Math.round(sqld1.ingest_msgs_per_s), unit: 'msg/s', target: '—', met: null, context: `1 server on sqld: committed over ${sqldIngestRun.seconds} s of traffic + ≤ ${sqldIngestRun.drainSeconds} s of drain; peak RSS ${round(sqld1.server_rss_mb)} MB; ${perCpu(sqld1)} with sqld's` });
    add({ figure: 'ingest_sqld_msgs_per_s (3)', key: 'ingest_sqld_3_msgs_per_s', value: Math.round(sqld3.ingest_msgs_per_s), unit: 'msg/s', target: '≥ 100000', met: sqld3.ingest_msgs_per_s >= 100_000, context: `3 servers on one sqld, SDKs spread over them; peak RSS ${round(sqld3.server_rss_mb)} MB; ${perCpu(sqld3)} with sqld's` });
    add({ figure: 'ingest_sqld_cpu_ratio', value: ratio, unit: '×', target: '≥ 0.5', met: ratio >= 0.5, context: `msg per CPU-s, 3 servers + sqld over 1 server on the file, this run; with 1 server on sqld ${round(sqld1.msgs_per_cpu_s / embedded.msgs_per_cpu_s, 2)}` });
    const bytesPerMillion = embedded.db_bytes === null ? 0 : (embedded.db_bytes / embedded.messages) * 1_000_000;
    add({ figure: 'db_bytes_per_million_msgs', value: Math.round(bytesPerMillion), unit: 'B', target: '—', met: null, context: `embedded file + WAL after ${embedded.messages.toLocaleString()} messages of the ingest run (1 in 10 kept by id until retention)` });
  }
  if (wanted('revert')) {
    const revertEmbedded = logged('revert embedded', await measureRevert(revertRun));
    const revertSqld = logged('revert sqld 3', await onSqld((dbUrl) => measureRevert({ ...revertRun, dbUrl, servers: 3 })));
    add({ figure: 'revert_embedded_p99_ms', value: Math.round(revertEmbedded.revert_p99_ms), unit: 'ms', target: '≤ 2000', met: revertEmbedded.revert_p99_ms <= 2000, context: `${revertRun.clients} SDKs on 1 server, embedded; p50 ${Math.round(revertEmbedded.revert_p50_ms)} ms over ${revertEmbedded.samples}; decided (audit) after ${revertEmbedded.decided_p50_ms} ms (median), ${revertEmbedded.decided_max_ms} ms at most` });
    add({ figure: 'revert_sqld_p99_ms', value: Math.round(revertSqld.revert_p99_ms), unit: 'ms', target: '≤ 1000', met: revertSqld.revert_p99_ms <= 1000, context: `${revertRun.clients} SDKs over 3 servers on one sqld; p50 ${Math.round(revertSqld.revert_p50_ms)} ms over ${revertSqld.samples}; decided (audit) after ${revertSqld.decided_p50_ms} ms (median), ${revertSqld.decided_max_ms} ms at most` });
  }
  if (wanted('tick')) {
    // The curve's small end first: a tenth of the rollouts.
    const tickSmall = logged('tick embedded (a tenth)', await onFile((dbUrl) => measureTick({ ...tickRun, rollouts: tickRun.rollouts / 10, dbUrl, label: 'embedded, a tenth' })));
    const tickEmbedded = logged('tick embedded', await onFile((dbUrl) => measureTick({ ...tickRun, dbUrl, label: 'embedded' })));
    const tickSqld = logged('tick sqld', await onSqld((dbUrl) => measureTick({ ...tickRun, dbUrl, label: 'sqld' })));
    add({ figure: 'tick_ms (embedded)', key: 'tick_embedded_p99_ms', value: round(tickEmbedded.tick_p99_ms), unit: 'ms', target: '≤ 100', met: tickEmbedded.tick_p99_ms <= 100, context: `p99 of ${tickEmbedded.ticks} passes over ${tickEmbedded.rollouts} running rollouts × 10 cohorts, ${tickEmbedded.rows_summed.toLocaleString()} count rows in their windows; p50 ${round(tickEmbedded.tick_p50_ms)} ms, CPU ${round(tickEmbedded.tick_cpu_p50_ms)} ms a pass (median)` });
    add({ figure: 'tick_traffic_ms (embedded)', key: 'tick_traffic_embedded_p99_ms', value: round(tickEmbedded.tick_traffic_p99_ms), unit: 'ms', target: '≤ 100', met: tickEmbedded.tick_traffic_p99_ms <= 100, context: `p99 of ${tickEmbedded.live_passes} passes 250 ms apart, each after new counts for one cohort of every rollout (every rollout moved; ${tickEmbedded.live_measured_p50} measured afresh in the median pass, figures at most ${round(tickEmbedded.live_oldest_max_ms)} ms old, ${tickEmbedded.live_overdue} measured for being past a second); p50 ${round(tickEmbedded.tick_traffic_p50_ms)} ms; a tenth of the rollouts: p99 ${round(tickSmall.tick_traffic_p99_ms)} ms; a burst (every cohort of every rollout before each pass, passes about a second apart; ${tickEmbedded.burst_measured_p50} measured afresh in the median pass): p99 ${round(tickEmbedded.tick_burst_p99_ms)} ms, p50 ${round(tickEmbedded.tick_burst_p50_ms)} ms` });
    figures.tick_burst_embedded_p99_ms = round(tickEmbedded.tick_burst_p99_ms);
    figures.tick_traffic_oldest_ms = round(tickEmbedded.live_oldest_max_ms);
    figures.tick_traffic_overdue = tickEmbedded.live_overdue;
    figures.tick_traffic_sqld_p99_ms = round(tickSqld.tick_traffic_p99_ms);
    figures.tick_traffic_sqld_overdue = tickSqld.live_overdue;
    add({ figure: 'tick_ms (sqld)', key: 'tick_sqld_p99_ms', value: round(tickSqld.tick_p99_ms), unit: 'ms', target: '≤ 100', met: tickSqld.tick_p99_ms <= 100, context: `the same on sqld; p50 ${round(tickSqld.tick_p50_ms)} ms; under traffic p99 ${round(tickSqld.tick_traffic_p99_ms)} ms (${tickSqld.live_overdue} measured for being past a second); a burst p99 ${round(tickSqld.tick_burst_p99_ms)} ms` });
    figures.metrics_scrape_sqld_ms = round(tickSqld.metrics_scrape_ms);
    add({ figure: 'metrics_scrape_ms', value: round(tickEmbedded.metrics_scrape_ms), unit: 'ms', target: '≤ 100', met: tickEmbedded.metrics_scrape_ms <= 100, context: `a /metrics scrape over ${tickEmbedded.rollouts} running rollouts after a controller pass put them on the status board, median of ${tickEmbedded.scrapes}, p99 ${round(tickEmbedded.metrics_scrape_p99_ms)} ms; on sqld ${figures.metrics_scrape_sqld_ms} ms; after a report for every rollout ${round(tickEmbedded.metrics_scrape_after_reports_ms)} ms; cold (a server just started, every rollout judged) ${round(tickEmbedded.metrics_scrape_cold_ms)} ms` });
    figures.tick_embedded_tenth_p99_ms = round(tickSmall.tick_p99_ms);
    add(growthRow('tick_growth (embedded)', 'tick_growth', tickSmall.tick_p99_ms, tickEmbedded.tick_p99_ms, `controller pass p99, ${tickSmall.rollouts} → ${tickEmbedded.rollouts} running rollouts (p50 ${round(tickSmall.tick_p50_ms)} → ${round(tickEmbedded.tick_p50_ms)} ms, CPU ${round(tickSmall.tick_cpu_p50_ms)} → ${round(tickEmbedded.tick_cpu_p50_ms)} ms)`));
  }
  if (wanted('ledger')) {
    const ledgerSmall = logged('ledger (a tenth)', await measureDashboard({ ...ledgerRun, rows: ledgerRun.rows / 10, mix: 'bad' }));
    const ledger = logged('ledger', await measureDashboard({ ...ledgerRun, mix: 'bad' }));
    add({ figure: 'ledger_page_ms', value: round(ledger.dashboard_ms), unit: 'ms', target: '≤ 100', met: ledger.dashboard_ms <= 100, context: `rollout page, ${ledger.rows.toLocaleString()} ledger rows in the window, 25% lost/replayed/late; median of ${ledger.samples}, p95 ${round(ledger.dashboard_p95_ms)} ms` });
    add({ figure: 'ledger_health_ms', value: round(ledger.health_ms), unit: 'ms', target: '≤ 100', met: ledger.health_ms <= 100, context: `GET /v1/rollouts/:key/health on the same ledger; p95 ${round(ledger.health_p95_ms)} ms` });
    figures.ledger_tenth_page_ms = round(ledgerSmall.dashboard_ms);
    figures.ledger_tenth_health_ms = round(ledgerSmall.health_ms);
    const rowsGrew = `${ledgerSmall.rows.toLocaleString()} → ${ledger.rows.toLocaleString()} ledger rows (bad mix)`;
    add(growthRow('ledger_page_growth', 'ledger_page_growth', ledgerSmall.dashboard_ms, ledger.dashboard_ms, `rollout page median, ${rowsGrew}`));
    add(growthRow('ledger_health_growth', 'ledger_health_growth', ledgerSmall.health_ms, ledger.health_ms, `/health median, ${rowsGrew}`));
  }

  const pad = (text: string, width: number) => text.padEnd(width);
  console.log(`\n${pad('figure', 30)}${pad('measured', 16)}${pad('target', 12)}${pad('met', 6)}context`);
  for (const row of rows) console.log(`${pad(row.figure, 30)}${pad(`${row.value} ${row.unit}`, 16)}${pad(row.target, 12)}${pad(row.met === null ? '—' : row.met ? 'yes' : 'NO', 6)}${row.context}`);
  console.log(`\n${quick ? 'quick' : 'full'} scale run, ${round((performance.now() - started) / 1000)} s, load average now ${load()}`);

  const out = process.env.ROLLCALL_BENCH_OUT;
  if (out) {
    writeFileSync(out, `${JSON.stringify({ ...figures, mode: quick ? 'quick-scale' : 'scale', ...(only === undefined ? {} : { only }), measuredAt: new Date().toISOString(), cores: cpus().length, node: process.version }, null, 2)}\n`);
    progress(`figures written to ${out}`);
  }
}


/** Growth from a tenth of the size to the whole, against the ≤ 2× target. */
function growthRow(figure: string, key: string, small: number, large: number, context: string): Row {
  const value = small > 0 ? round(large / small, 2) : 0;
  return { figure, key, value, unit: '×', target: '≤ 2', met: small > 0 ? value <= 2 : null, context: `${context}: ${round(small)} → ${round(large)} ms` };
}
