/**
 * dashboard_ms: server time to render a rollout page (the whole HTML, in
 * process through app.request) with 10 cohorts and `rows` message rows in
 * the ledger, on a real libsql file. Median over `samples` renders; the same
 * for `GET /v1/rollouts/:key/health`. The `bad` mix has a quarter of the
 * ledger lost, replayed or late.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Libsql from 'libsql';
import { createApp } from '../../server/app.ts';
import { systemClock } from '../../server/clock.ts';
import { openDatabase } from '../../server/db/database.ts';
import { silentLogger } from '../../server/logger.ts';
import { median, percentile, progress } from './stats.ts';

const ADMIN = 'bench-dashboard-admin-key-0123456789abcdefgh';
const KEY = 'psa-webhooks-v2';
const COHORTS = 10;
const WINDOW_S = 600;

// Of every 1,000 rows: ordinary, 960 processed, 20 failed, 10 open, 5 lost, 3 replayed, 2 late; bad, 250 lost, replayed or late.
const MIXES = {
  ordinary: { processed: 960, failed: 20, open: 10, lost: 5, replayed: 3, late: 2 },
  bad: { processed: 730, failed: 15, open: 5, lost: 120, replayed: 70, late: 60 },
};
export type Mix = keyof typeof MIXES;

/** Ledger and counts as ten minutes of traffic over ten cohorts would leave them. */
function fill(path: string, rolloutId: number, rows: number, now: number, mix: Mix): void {
  const db = new Libsql(path);
  db.exec('PRAGMA busy_timeout = 5000');
  const message = db.prepare('INSERT INTO messages (rollout_id, message_id, partner_id, cohort, path, status, received_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const counts = db.prepare('INSERT INTO cohort_counts (rollout_id, cohort, path, bucket, received, processed, failed) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const statuses = Object.entries(MIXES[mix]).flatMap(([status, n]) => Array<string>(n).fill(status));
  // The ledger's secondary indexes are built once the rows are in: far faster than row by row at 10 million.
  const indexes = (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL").all() as { name: string; sql: string }[]);
  for (const { name } of indexes) db.exec(`DROP INDEX ${name}`);
  const CHUNK = 50_000;
  for (let start = 0; start < rows; start += CHUNK) {
    if (start % 1_000_000 === 0 && start > 0) progress(`dashboard: ${start.toLocaleString()} of ${rows.toLocaleString()} rows`);
    db.exec('BEGIN');
    for (let i = start; i < Math.min(rows, start + CHUNK); i++) {
      const receivedAt = now - WINDOW_S * 1000 + Math.floor((i / rows) * WINDOW_S * 1000);
      const status = statuses[(i * 7919) % statuses.length]!;
      message.run([rolloutId, `msg-${i}`, `partner-${i % 5000}`, `c${(i % COHORTS) + 1}`, 'new', status, receivedAt, status === 'open' || status === 'lost' ? null : receivedAt + 40]);
    }
    db.exec('COMMIT');
  }
  progress(`dashboard: building the ledger's ${indexes.length} indexes`);
  for (const { sql } of indexes) db.exec(sql);
  db.exec('BEGIN');
  const perSecond = Math.max(1, Math.round(rows / WINDOW_S / COHORTS));
  for (let s = 0; s < WINDOW_S; s++) {
    const bucket = Math.floor(now / 1000) - WINDOW_S + s;
    for (let c = 1; c <= COHORTS; c++) counts.run([rolloutId, `c${c}`, 'new', bucket, perSecond, perSecond - 1, 0]);
    counts.run([rolloutId, 'baseline', 'old', bucket, perSecond * 5, perSecond * 5, 0]);
  }
  db.exec('COMMIT');
  db.close();
}

export async function measureDashboard(options: { rows: number; samples: number; mix?: Mix }) {
  const mix = options.mix ?? 'ordinary';
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-dashboard-'));
  const path = join(dir, 'rollcall.db');
  const database = await openDatabase({ url: `file:${path}` });
  const rollcall = createApp({ database, clock: systemClock, logger: silentLogger });
  try {
    await rollcall.services.keys.bootstrap(ADMIN);
    const plan = Array.from({ length: COHORTS }, (_, i) => ({ live: (i + 1) * 5 }));
    await rollcall.services.rollouts.create({ key: KEY, plan, guards: { windowSeconds: WINDOW_S } } as never, { actor: 'bench' });
    await rollcall.services.rollouts.transition(KEY, { action: 'start' }, { actor: 'bench' });
    for (let i = 1; i < COHORTS; i++) await rollcall.services.rollouts.transition(KEY, { action: 'advance' }, { actor: 'bench' });
    progress(`dashboard: writing ${options.rows.toLocaleString()} message rows (${mix} mix) over ${COHORTS} cohorts`);
    const rolloutId = Number((await database.client.execute({ sql: 'SELECT id FROM rollouts WHERE key = ?', args: [KEY] })).rows[0]!.id);
    fill(path, rolloutId, options.rows, Date.now(), mix);
    await database.client.execute('ANALYZE');

    const render = async () => {
      const started = performance.now();
      const res = await rollcall.app.request(`/rollouts/${KEY}`, { headers: { cookie: `rollcall_session=${ADMIN}` } });
      const html = await res.text();
      const ms = performance.now() - started;
      if (res.status !== 200 || !html.includes('data-cohort="c10"')) throw new Error(`the rollout page did not render: ${res.status}`);
      return ms;
    };
    const health = async () => {
      const started = performance.now();
      const res = await rollcall.app.request(`/v1/rollouts/${KEY}/health`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = (await res.json()) as { cohorts?: unknown[] };
      const ms = performance.now() - started;
      if (res.status !== 200 || body.cohorts?.length !== COHORTS + 1) throw new Error(`health did not answer: ${res.status}`);
      return ms;
    };
    await render(); // warm: statement caches, JIT
    await health();
    progress(`dashboard: ${options.samples} renders of the rollout page and of /health`);
    const times: number[] = [];
    const healthTimes: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      times.push(await render());
      healthTimes.push(await health());
    }
    return { dashboard_ms: median(times), dashboard_p95_ms: percentile(times, 95), health_ms: median(healthTimes), health_p95_ms: percentile(healthTimes, 95), rows: options.rows, samples: options.samples, mix };
  } finally {
    await rollcall.close();
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
