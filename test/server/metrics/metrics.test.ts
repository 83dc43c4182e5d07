import { afterEach, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
afterEach(() => t.close());

/** `/metrics` parsed by a Prometheus text-format parser: family name → samples. */
async function scrape(key: string | null): Promise<Map<string, Family>> {
  const reply = await t.call('GET', '/metrics', { key });
  expect(reply.status, reply.text.slice(0, 200)).toBe(200);
  expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheusTextFormat(reply.text).map((family) => [family.name, family]));
}
function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const sample = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

describe('/metrics', () => {
  it('counts what the health API shows, per rollout and cohort, with gauges of the rollouts', async () => {
    t = await createTestApp();
    await createRollout(t, 'r', { plan: [{ live: 50, shadow: 60 }, { live: 100 }], guards: { graceSeconds: 5, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await sendTraffic(t, 'r', 'c1', 100, 10);
    await sendTraffic(t, 'r', 'baseline', 40, 0, 'old');
    t.clock.advance(6_000);
    await t.rollcall.services.controller.tick();

    const families = await scrape(t.keys.read);
    const health = (await t.call('GET', '/v1/rollouts/r/health')).body;
    for (const name of ['c1', 'baseline']) {
      const cohort = health.cohorts.find((c: any) => c.name === name);
      for (const what of ['received', 'processed', 'failed', 'lost', 'compared', 'mismatched', 'dropped']) {
        const counted = value(families, `rollcall_${what}_total`, { rollout: 'r', cohort: name }) ?? 0;
        expect(counted, `${what} in ${name}`).toBe(cohort[what]);
      }
    }
    expect(value(families, 'rollcall_received_total', { rollout: 'r', cohort: 'c1' })).toBe(100);
    expect(value(families, 'rollcall_lost_total', { rollout: 'r', cohort: 'c1' })).toBe(10);
    expect(value(families, 'rollcall_reverts_total', { rollout: 'r', scope: 'cohort', trigger: 'guard' })).toBe(1);
    expect(value(families, 'rollcall_rollout_state', { rollout: 'r', state: 'paused' })).toBe(1);
    expect(value(families, 'rollcall_rollout_state', { rollout: 'r', state: 'running' })).toBe(0);
    expect(value(families, 'rollcall_rollout_live_basis_points', { rollout: 'r' })).toBe(5000);
    expect(value(families, 'rollcall_rollout_shadow_basis_points', { rollout: 'r' })).toBe(1000);
    expect(value(families, 'rollcall_sdk_streams', {})).toBe(0);
    expect(families.get('rollcall_ingest_batch_seconds')).toMatchObject({ type: 'HISTOGRAM' });
    expect(Number(families.get('rollcall_ingest_batch_seconds')!.metrics[0]!.count)).toBe(2);
    expect(Number(families.get('rollcall_controller_tick_seconds')!.metrics[0]!.count)).toBe(1);
    expect(families.get('process_resident_memory_bytes')).toBeDefined();
  });

  it('never labels by partner or message id, and folds cohorts past 64 per rollout into other', async () => {
    t = await createTestApp();
    await createRollout(t, 'r', { plan: [{ live: 50 }] });
    await t.call('POST', '/v1/rollouts/r/start');
    for (let i = 1; i <= 70; i++) await sendTraffic(t, 'r', `c${i}`, 1, 1);
    const reply = await t.call('GET', '/metrics');
    expect(reply.text).not.toMatch(/partner|message_id|messageId|p0|c1-/);
    const families = await scrape(t.keys.admin);
    const cohorts = families.get('rollcall_received_total')!.metrics.map((m) => m.labels!.cohort);
    expect(cohorts).toHaveLength(65);
    expect(value(families, 'rollcall_received_total', { rollout: 'r', cohort: 'other' })).toBe(6);
  });

  it('asks for a read or admin key unless ROLLCALL_METRICS_PUBLIC is set', async () => {
    t = await createTestApp();
    expect((await t.call('GET', '/metrics', { key: null })).status).toBe(401);
    expect((await t.call('GET', '/metrics', { key: t.keys.sdk })).status).toBe(403);
    expect((await t.call('GET', '/metrics', { key: t.keys.admin })).status).toBe(200);
    await t.close();
    t = await createTestApp({ deps: { metricsPublic: true } });
    expect((await t.call('GET', '/metrics', { key: null })).status).toBe(200);
  });

  it('counts callback attempts by outcome', async () => {
    t = await createTestApp({ deps: { callbacks: { send: async () => ({ status: 500, latencyMs: 1, error: null, excerpt: null, address: '192.0.2.1', retryAfterMs: null }) } } });
    await t.call('POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com/a' } });
    await createRollout(t, 'r', { plan: [{ live: 50 }] });
    await t.call('POST', '/v1/rollouts/r/start');
    await t.rollcall.services.worker.drain();
    expect(value(await scrape(t.keys.read), 'rollcall_callback_attempts_total', { outcome: 'failed' })).toBe(1);
  });
});
