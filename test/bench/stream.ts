/**
 * The stream at scale, against a real server process on an embedded
 * database: the bytes one `advance` puts on the wire per connected stream,
 * with 50 and with 1,000 running rollouts (patches: independent of the number
 * of rollouts; whole snapshots, as older SDKs get them: proportional to it),
 * and the server's RSS with `streams` connections open. The streams are raw
 * HTTP connections reading the SSE bytes, to keep this process light.
 */
import http from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { createClient, type InValue } from '@libsql/client';
import { startServer } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { cloneRollouts } from './seed.ts';
import { progress } from './stats.ts';

const ADMIN = 'bench-stream-admin-key-0123456789abcdefghij';
const PLAN = [{ live: 1 }, { live: 2 }, { live: 5 }, { live: 10 }, { live: 20 }, { live: 50 }, { live: 100 }];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

interface Stream {
  bytes: number;
  close(): void;
}

function openStream(base: string, key: string, query: string, agent: http.Agent): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}/v1/sdk/stream${query}`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, agent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      const stream: Stream = { bytes: 0, close: () => request.destroy() };
      res.on('data', (chunk: Buffer) => {
        stream.bytes += chunk.length;
        resolve(stream);
      });
      res.on('error', () => undefined);
    });
    request.on('error', reject);
  });
}

/** Waits until no stream has received anything for 500 ms (the last change has reached them all). */
async function quiet(streams: Stream[]): Promise<void> {
  let total = -1;
  for (;;) {
    const now = streams.reduce((sum, s) => sum + s.bytes, 0);
    if (now === total) return;
    total = now;
    await sleep(500);
  }
}

/**
 * Two phases on one server. With `fewRollouts` running: `streams` streams
 * with patches and `legacyStreams` without; one advance; bytes per stream
 * and the server's RSS. Then, with the streams closed (so that growing does
 * not send each new rollout to every stream), up to `manyRollouts`, and
 * `manyStreams` streams opened again for one more advance.
 */
export async function measureStream(options: { streams: number; legacyStreams: number; fewRollouts: number; manyRollouts: number; manyStreams: number }) {
  const { url: dbUrl, dir } = tempDatabaseUrl();
  const server = await startServer({ ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN }, 60_000);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let streams: Stream[] = [];
  const seeder = createClient({ url: dbUrl });
  try {
    const api = async (method: string, path: string, body?: unknown, key = ADMIN) => {
      const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as any;
    };
    const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'bench' })).key as string;
    const idleRss = rssMb(server.child.pid!);
    // r0000 is made through the API; the others are SQL clones of it (seed.ts), which the server
    // picks up within its 250 ms watch for changes made elsewhere, as it would another server's.
    await api('POST', '/v1/rollouts', { key: 'r0000', plan: PLAN, guards: { minSample: 1_000_000 } });
    await api('POST', '/v1/rollouts/r0000/start');
    const run = (sql: string, args: InValue[] = []) => seeder.execute({ sql, args });
    let created = 1;
    async function grow(count: number): Promise<void> {
      progress(`stream: ${count} running rollouts`);
      await cloneRollouts(run, 'r0000', 'r', count - created);
      created = count;
      // The server has them once its snapshot carries them all.
      const deadline = Date.now() + 30_000;
      while ((await api('GET', '/v1/sdk/config', undefined, sdkKey)).rollouts.length < count) {
        if (Date.now() > deadline) throw new Error(`the server did not pick up ${count} rollouts`);
        await sleep(100);
      }
    }
    async function open(patched: number, legacy: number): Promise<void> {
      progress(`stream: opening ${patched} streams with patches and ${legacy} without`);
      for (let i = 0; i < patched; i += 50) {
        streams.push(...(await Promise.all(Array.from({ length: Math.min(50, patched - i) }, () => openStream(server.url, sdkKey, '?patches=1', agent)))));
      }
      for (let i = 0; i < legacy; i++) streams.push(await openStream(server.url, sdkKey, '', agent));
    }
    /** Bytes per stream that one advance put on the wire: [with patches, without]. */
    async function advance(patched: number): Promise<[number, number]> {
      await quiet(streams);
      const before = streams.map((s) => s.bytes);
      await api('POST', `/v1/rollouts/r0000/advance`, { reason: 'bench' });
      const deadline = Date.now() + 60_000;
      while (streams.some((s, i) => s.bytes === before[i]) && Date.now() < deadline) await sleep(20);
      await quiet(streams);
      const sent = (from: number, to: number) => streams.slice(from, to).reduce((sum, s, i) => sum + s.bytes - before[from + i]!, 0) / Math.max(1, to - from);
      return [sent(0, patched), sent(patched, streams.length)];
    }

    await grow(options.fewRollouts);
    await open(options.streams, options.legacyStreams);
    const [fewPatch, fewWhole] = await advance(options.streams);
    const rss = rssMb(server.child.pid!);
    for (const s of streams) s.close();
    streams = [];
    await grow(options.manyRollouts);
    await open(options.manyStreams, options.legacyStreams);
    const [manyPatch, manyWhole] = await advance(options.manyStreams);
    return {
      streams: options.streams,
      idle_rss_mb: idleRss,
      byCount: [
        { rollouts: options.fewRollouts, patch_bytes: fewPatch, snapshot_bytes: fewWhole },
        { rollouts: options.manyRollouts, patch_bytes: manyPatch, snapshot_bytes: manyWhole },
      ],
      stream_bytes_per_change: manyPatch,
      stream_server_rss_mb: rss,
    };
  } finally {
    for (const s of streams) s.close();
    agent.destroy();
    seeder.close();
    await server.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
