/**
 * The accounting figures, against a real server process on an embedded
 * database (its build, started as `npm start` starts it): ingest throughput end to end
 * with the server's RSS under that load, the time from a cohort's losses
 * becoming due to every SDK on the stream routing it to old, and the SDK's
 * memory with 100,000 messages in flight.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createClient as createDbClient } from '@libsql/client';
import { createClient, positionOf, type RollcallClient } from '@rollcall/sdk';
import { ROOT, startServer, type ServerProcess } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { cpuOf } from './cpu.ts';
import { median, percentile, progress } from './stats.ts';

const ADMIN = 'bench-admin-key-0123456789abcdefghijklmnop';
const quiet = { warn() {}, error() {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** `work`, or nothing more than `ms` of waiting for it (no bound when `ms` is Infinity). */
const within = (work: Promise<unknown>, ms: number) => (ms === Infinity ? work : Promise.race([work, sleep(Math.max(0, ms))]));

/** Where the servers keep their data: a fresh embedded file (default), or one libsql server shared by `servers` processes. */
export interface Deployment {
  dbUrl?: string;
  servers?: number;
  /** More of the servers' environment (ROLLCALL_INGEST_GROUP_MAX, say). */
  env?: Record<string, string>;
  /** Processes whose CPU counts with the servers' (the sqld they share). */
  cpuPids?: number[];
}

interface Harness {
  server: ServerProcess;
  servers: ServerProcess[];
  dbUrl: string;
  sdkKey: string;
  api(method: string, path: string, body?: unknown): Promise<any>;
  /** Stops the servers; `after` runs before their data is removed. */
  close(after?: () => void): Promise<void>;
}

async function harness(deployment: Deployment = {}): Promise<Harness> {
  const temp = deployment.dbUrl === undefined ? tempDatabaseUrl() : null;
  const dbUrl = deployment.dbUrl ?? temp!.url;
  const env = { ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN, ...deployment.env };
  // The first server migrates the database; the others start on the migrated schema.
  // The build, as `npm start` runs it (npm run bench builds it first).
  const server = await startServer(env, 60_000, { built: true });
  const servers = [server, ...(await Promise.all(Array.from({ length: (deployment.servers ?? 1) - 1 }, () => startServer(env, 60_000, { built: true }))))];
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return (await res.json()) as any;
  };
  const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'bench' })).key as string;
  return {
    server,
    servers,
    dbUrl,
    sdkKey,
    api,
    async close(after) {
      await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      after?.();
      if (temp !== null) rmSync(temp.dir, { recursive: true, force: true });
    },
  };
}

/** The file with its WAL, as left by a server stopped cleanly (which checkpoints). */
function fileBytes(path: string): number {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * `clients` SDKs send as fast as they can for `seconds`: every message is
 * received and then processed; one in ten is settled by the next client (as
 * another process would), so it travels by id both ways. The figure is the
 * messages the server committed, over the time from the first message to the
 * last acknowledgement. With several servers the SDKs are spread over them.
 * On a file it also gives the bytes on disk per million messages.
 */
export async function measureIngest(options: { clients: number; seconds: number; rounds: number; drainSeconds?: number } & Deployment) {
  const h = await harness(options);
  await h.api('POST', '/v1/rollouts', { key: 'ingest', plan: [{ live: 50 }], guards: { graceSeconds: 600, windowSeconds: 3600 } });
  await h.api('POST', '/v1/rollouts/ingest/start');
  const db = createDbClient({ url: h.dbUrl });
  const committed = async () => Number((await db.execute('SELECT coalesce(sum(received), 0) AS n FROM cohort_counts')).rows[0]!.n);
  const rates: number[] = [];
  const commitRates: number[] = [];
  // Commits the servers made (their group-commit histogram's count), summed over them.
  const commits = async () => {
    let n = 0;
    for (const s of h.servers) {
      const text = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      n += Number(/^rollcall_report_group_batches_count (\d+)/m.exec(text)?.[1] ?? 0);
    }
    return n;
  };
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, ...h.servers.map((s) => rssMb(s.child.pid!)))), 100);
  let byId = 0;
  // CPU of the servers (and the database server, when there is one) over the rounds' traffic and drain.
  const serverPids = h.servers.map((s) => s.child.pid!);
  const pids = [...serverPids, ...(options.cpuPids ?? [])];
  let cpu = 0;
  let serverCpu = 0;
  let counted = 0;
  for (let round = 0; round < options.rounds; round++) {
    progress(`ingest round ${round + 1}/${options.rounds}: ${options.clients} SDKs over ${h.servers.length} server(s) for ${options.seconds} s`);
    const clients: RollcallClient[] = Array.from({ length: options.clients }, (_, k) =>
      createClient({ url: h.servers[k % h.servers.length]!.url, sdkKey: h.sdkKey, logger: quiet, maxBufferedEvents: 200_000, initTimeoutMs: 30_000 }),
    );
    await Promise.all(clients.map((c) => c.ready()));
    const before = await committed();
    const commitsBefore = await commits();
    const cpuBefore = cpuOf(pids);
    const serverCpuBefore = cpuOf(serverPids);
    const started = performance.now();
    const stopAt = started + options.seconds * 1000;
    let sent = 0;
    await Promise.all(
      clients.map(async (rc, k) => {
        const next = clients[(k + 1) % clients.length]!;
        let i = 0;
        while (performance.now() < stopAt) {
          for (let j = 0; j < 500; j++, i++) {
            const message = { partnerId: `p${(i * 7 + k) % 10_000}`, messageId: `r${round}-c${k}-${i}` };
            rc.received('ingest', message);
            if (i % 10 === 0) {
              next.processed('ingest', message);
              byId++;
            } else {
              rc.processed('ingest', message);
            }
          }
          sent += 500;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    // Everything out, every batch acknowledged; or, with `drainSeconds`, what got in by then (a
    // server slower than the SDKs would otherwise have the figure wait out their whole backlog).
    const drainUntil = options.drainSeconds === undefined ? Infinity : performance.now() + options.drainSeconds * 1000;
    for (let attempt = 0; attempt < 100 && clients.some((c) => c.status.buffered > 0) && performance.now() < drainUntil; attempt++) {
      await within(Promise.all(clients.map((c) => c.flush())), drainUntil - performance.now());
    }
    const elapsed = (performance.now() - started) / 1000;
    const got = (await committed()) - before;
    cpu += cpuOf(pids) - cpuBefore;
    serverCpu += cpuOf(serverPids) - serverCpuBefore;
    counted += got;
    if (got !== sent) progress(`  committed ${got} of ${sent} messages in ${elapsed.toFixed(1)} s`);
    rates.push(got / elapsed);
    commitRates.push(((await commits()) - commitsBefore) / elapsed);
    await within(Promise.all(clients.map((c) => c.close())), options.drainSeconds === undefined ? Infinity : 5_000);
  }
  clearInterval(rssTimer);
  const openRows = Number((await db.execute("SELECT count(*) AS n FROM messages WHERE status = 'open'")).rows[0]!.n);
  const total = await committed();
  db.close();
  let dbBytes: number | null = null;
  await h.close(() => {
    if (h.dbUrl.startsWith('file:')) dbBytes = fileBytes(h.dbUrl.slice('file:'.length));
  });
  return { ingest_msgs_per_s: median(rates), msgs_per_cpu_s: counted / cpu, cpu_s: cpu, server_cpu_s: serverCpu, commits_per_s: median(commitRates), server_rss_mb: peakRss, settledById: byId, openRowsLeft: openRows, messages: total, db_bytes: dbBytes };
}

/**
 * `clients` SDKs on the stream; one more sends a cohort's messages, a fifth of
 * which are never processed. The losses become due the rollout's settle time
 * after they were received (`dueSeconds`, at most `graceSeconds`); each SDK's
 * delay is from then until its `revert` event.
 * With several servers the SDKs are spread over them (the sender is on the first).
 */
export async function measureRevert(options: { clients: number; trials: number } & Deployment) {
  const h = await harness(options);
  const clients: RollcallClient[] = Array.from({ length: options.clients }, (_, k) => createClient({ url: h.servers[k % h.servers.length]!.url, sdkKey: h.sdkKey, logger: quiet, initTimeoutMs: 30_000 }));
  await Promise.all(clients.map((c) => c.ready()));
  const sender = createClient({ url: h.server.url, sdkKey: h.sdkKey, logger: quiet, flushIntervalMs: 200 });
  await sender.ready();
  const delays: number[] = [];
  const decided: number[] = [];
  const trialP99: number[] = [];
  const grace = 2;
  for (let trial = 0; trial < options.trials; trial++) {
    progress(`revert trial ${trial + 1}/${options.trials} with ${options.clients} SDKs on the stream`);
    const key = `revert-${trial}`;
    await h.api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }], guards: { graceSeconds: grace, minSample: 20 } });
    await h.api('POST', `/v1/rollouts/${key}/start`);
    const member = Array.from({ length: 1000 }, (_, i) => `p${i}`).find((p) => positionOf(key, p) < 5000)!;
    const deadline = Date.now() + 5_000;
    while (!clients.every((c) => c.path(key, member) === 'new') && Date.now() < deadline) await sleep(10);
    const seen = new Map<RollcallClient, number>();
    const off = clients.map((c) => c.on('revert', (e) => e.rollout === key && !seen.has(c) && seen.set(c, Date.now())));
    let lastLost = 0;
    for (let i = 0; i < 50; i++) {
      const message = { partnerId: member, messageId: `${key}-${i}` };
      sender.received(key, message);
      if (i % 5 === 0) lastLost = Date.now();
      else sender.processed(key, message);
    }
    await sender.flush();
    const waitUntil = lastLost + grace * 1000 + 10_000;
    while (seen.size < clients.length && Date.now() < waitUntil) await sleep(20);
    // Losses are due after the rollout's settle time (at most the grace), as the server says it judged them.
    const { dueSeconds } = (await h.api('GET', `/v1/rollouts/${key}/health`)) as { dueSeconds: number };
    const due = lastLost + dueSeconds * 1000;
    for (const stop of off) stop();
    // When a server decided (the breach's audit entry), to tell the decision apart from its delivery.
    const audit = (await h.api('GET', `/v1/audit?rollout=${key}`)) as { items: { action: string; at: string }[] };
    const breached = audit.items.find((e) => e.action === 'guard.breached');
    if (breached !== undefined) decided.push(Date.parse(breached.at) - due);
    const trialDelays = clients.map((c) => (seen.get(c) ?? Number.POSITIVE_INFINITY) - due);
    delays.push(...trialDelays);
    trialP99.push(percentile(trialDelays, 99));
  }
  await Promise.all([...clients, sender].map((c) => c.close()));
  await h.close();
  return { revert_p99_ms: percentile(delays, 99), revert_p50_ms: percentile(delays, 50), revert_trial_p99_median_ms: median(trialP99), samples: delays.length, decided_p50_ms: decided.length === 0 ? null : median(decided), decided_max_ms: decided.length === 0 ? null : Math.max(...decided) };
}

export function measureSdkMemory(options: { messages: number; rounds: number }) {
  const runs: { runExtraMb: number; receivedMb: number; inFlight: number; manualInFlight: number; elsewhereMb: number; elsewhereInFlight: number }[] = [];
  for (let round = 0; round < options.rounds; round++) {
    progress(`SDK memory round ${round + 1}/${options.rounds}: ${options.messages.toLocaleString()} messages in flight`);
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/bench/sdk-memory.ts', String(options.messages)], { cwd: ROOT, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`sdk-memory failed: ${child.stderr}`);
    runs.push(JSON.parse(child.stdout.trim().split('\n').at(-1)!));
  }
  return {
    sdk_mem_mb: median(runs.map((r) => Math.max(r.runExtraMb, r.receivedMb, r.elsewhereMb))),
    run_extra_mb: median(runs.map((r) => r.runExtraMb)),
    received_mb: median(runs.map((r) => r.receivedMb)),
    elsewhere_mb: median(runs.map((r) => r.elsewhereMb)),
    elsewhere_in_flight: runs[0]!.elsewhereInFlight,
    inFlight: runs[0]!.inFlight,
  };
}
