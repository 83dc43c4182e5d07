/**
 * OFREP single evaluations over HTTP keep-alive, from this process against a
 * real server process (started as `npm start` starts it): evaluations per
 * second with `concurrency` requests in flight, and the p99 of their round
 * trips. Each request names another partner, so none is answered from a cache.
 */
import { Agent, request } from 'node:http';
import { rmSync } from 'node:fs';
import { startServer } from '../helpers/server-process.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';
import { median, percentile, progress } from './stats.ts';

const ADMIN = 'bench-admin-key-0123456789abcdefghijklmnop';

function post(agent: Agent, url: URL, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function measureOfrep(options: { seconds: number; concurrency: number; rounds: number }) {
  const { url: dbUrl, dir } = tempDatabaseUrl();
  const server = await startServer({ ROLLCALL_DB_URL: dbUrl, ROLLCALL_ADMIN_KEY: ADMIN });
  try {
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as any;
    };
    const sdkKey = (await api('POST', '/v1/keys', { kind: 'sdk', name: 'bench' })).key as string;
    await api('POST', '/v1/rollouts', { key: 'psa-webhooks-v2', plan: [{ live: 5, shadow: 35 }, { live: 25, shadow: 35 }] });
    await api('POST', '/v1/rollouts/psa-webhooks-v2/start');
    await api('POST', '/v1/rollouts/psa-webhooks-v2/advance');
    await api('PUT', '/v1/rollouts/psa-webhooks-v2/pins/vip', { path: 'old' });

    const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
    const target = new URL(`${server.url}/ofrep/v1/evaluate/flags/psa-webhooks-v2`);
    const headers = { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' };
    let next = 0;
    let failures = 0;

    async function round(seconds: number) {
      const latencies: number[] = [];
      const started = performance.now();
      const deadline = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (performance.now() < deadline) {
            const sent = performance.now();
            const status = await post(agent, target, headers, `{"context":{"targetingKey":"partner-${next++}"}}`);
            if (status !== 200) failures++;
            latencies.push(performance.now() - sent);
          }
        }),
      );
      return { perSecond: latencies.length / ((performance.now() - started) / 1000), p99: percentile(latencies, 99), p50: percentile(latencies, 50) };
    }

    await round(Math.min(1, options.seconds)); // warm-up: connections, JIT, the snapshot in memory
    const results = [];
    for (let i = 0; i < options.rounds; i++) {
      results.push(await round(options.seconds));
      progress(`ofrep round ${i + 1}: ${Math.round(results[i]!.perSecond)} evaluations/s, p99 ${results[i]!.p99.toFixed(2)} ms`);
    }
    agent.destroy();
    if (failures > 0) throw new Error(`${failures} OFREP evaluations did not answer 200`);
    return {
      ofrep_evals_per_s: median(results.map((r) => r.perSecond)),
      ofrep_p99_ms: median(results.map((r) => r.p99)),
      ofrep_p50_ms: median(results.map((r) => r.p50)),
      evaluations: next,
    };
  } finally {
    await server.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
