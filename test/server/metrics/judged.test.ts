/**
 * /metrics says what health says: beside the raw counters (every mismatch an
 * SDK reported, learned noise included), gauges of the figures health judged
 * over its window — mismatches net of withdrawn noise, the withdrawn ones,
 * the rates and their tolerances. The alert rule docs/metrics.md gives is
 * checked by promtool and run over these very scrapes: quiet on a noise-only
 * rollout, firing on a cohort losing messages.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { ROOT } from '../../helpers/server-process.ts';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
afterEach(() => t.close());

async function scrape(): Promise<Map<string, Family>> {
  const reply = await t.call('GET', '/metrics', { key: t.keys.read });
  expect(reply.status).toBe(200);
  return new Map(parsePrometheusTextFormat(reply.text).map((family) => [family.name, family]));
}
function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const sample = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}
const second = () => Math.floor(t.clock.now() / 1000);
const row = (rollout: string, cohort: string, path: string, figures: Record<string, number>, differences?: unknown) =>
  ({ rollout, cohort, path, second: second(), received: 0, processed: 0, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, ...figures, ...(differences ? { differences } : {}) }) as any;

/** A shadow rollout whose every mismatch lies in a learned-noise traceId. */
async function noiseOnly() {
  await t.call('POST', '/v1/rollouts', { body: { key: 'ledger-export-v2', plan: [{ live: 0, shadow: 100 }, { live: 100 }], guards: { minSample: 100 } } });
  await t.call('POST', '/v1/rollouts/ledger-export-v2/start');
  for (let i = 0; i < 3; i++) {
    await sendReport(t, {
      counts: [row('ledger-export-v2', 'shadow', 'shadow', { received: 250, processed: 250, compared: 250, mismatched: 250 }, [{ paths: ['$.traceId'], count: 250 }])],
      noise: [{ rollout: 'ledger-export-v2', paths: ['$.traceId'], runs: 25, counts: [25] }],
    });
    t.clock.advance(2_000);
  }
}

/** A 1 % cohort losing 12 of 168 messages beside a baseline of 12,000. */
async function smallCohortLoss() {
  await t.call('POST', '/v1/rollouts', { body: { key: 'queue', plan: [{ live: 1 }, { live: 100 }], guards: { graceSeconds: 2, minSample: 100 }, onBreach: 'pause' } });
  await t.call('POST', '/v1/rollouts/queue/start');
  for (let i = 0; i < 6; i++) {
    const now = t.clock.now();
    const open = i < 3 ? 4 : 0;
    const messages = Array.from({ length: open }, (_, k) => ({ rollout: 'queue', messageId: `c1-${i}-${k}`, partnerId: `p${k}`, cohort: 'c1', path: 'new', status: 'open', receivedAt: now, at: now }));
    await sendReport(t, { counts: [row('queue', 'c1', 'new', { received: 28, processed: 28 - open }), row('queue', 'baseline', 'old', { received: 2000, processed: 2000 })], messages: messages as any });
    t.clock.advance(1_000);
  }
  t.clock.advance(3_000);
  await sendReport(t, {});
  await t.rollcall.services.controller.tick();
}

/** The alert rule docs/metrics.md gives for the judged rates. */
function documentedRule(): string {
  const docs = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
  const block = /```yaml\n([\s\S]*?RollcallCohortOverTolerance[\s\S]*?)```/.exec(docs)?.[1];
  expect(block, 'docs/metrics.md gives the rule as a yaml block').toBeDefined();
  return block!;
}

describe('/metrics says what health says', () => {
  it('a noise-only rollout: the raw counter counts every mismatch, the judged gauges none, as the health API', async () => {
    t = await createTestApp();
    await noiseOnly();
    await t.rollcall.services.controller.tick();
    const families = await scrape();
    const shadow = (await t.call('GET', '/v1/rollouts/ledger-export-v2/health')).body.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 750, mismatched: 0, withdrawn: 750, rates: { mismatch: 0 } });
    const labels = { rollout: 'ledger-export-v2', cohort: 'shadow' };
    expect(value(families, 'rollcall_mismatched_total', labels)).toBe(750);
    expect(value(families, 'rollcall_cohort_judged_compared', labels)).toBe(shadow.compared);
    expect(value(families, 'rollcall_cohort_judged_mismatched', labels)).toBe(shadow.mismatched);
    expect(value(families, 'rollcall_cohort_judged_withdrawn', labels)).toBe(shadow.withdrawn);
    expect(value(families, 'rollcall_cohort_judged_ratio', { ...labels, guard: 'mismatch' })).toBe(0);
    expect(value(families, 'rollcall_guard_tolerance_ratio', { rollout: 'ledger-export-v2', guard: 'mismatch' })).toBe(0.01);
  });

  it('a small cohort losing messages: its judged loss and failure rates are the health API’s', async () => {
    t = await createTestApp();
    await smallCohortLoss();
    const families = await scrape();
    const c1 = (await t.call('GET', '/v1/rollouts/queue/health')).body.cohorts.find((c: any) => c.name === 'c1');
    expect(c1.lost).toBe(12);
    expect(value(families, 'rollcall_cohort_judged_ratio', { rollout: 'queue', cohort: 'c1', guard: 'loss' })).toBeCloseTo(c1.rates.loss, 12);
    expect(value(families, 'rollcall_cohort_judged_ratio', { rollout: 'queue', cohort: 'c1', guard: 'failure' })).toBeCloseTo(c1.rates.failureDelta, 12);
    // The baseline has no failure rate over itself: no sample rather than a made-up 0.
    expect(value(families, 'rollcall_cohort_judged_ratio', { rollout: 'queue', cohort: 'baseline', guard: 'failure' })).toBeUndefined();
  });

  it('the documented alert rule passes promtool and, over these scrapes, fires for the lossy cohort and not for the noise', async () => {
    t = await createTestApp();
    await noiseOnly();
    await smallCohortLoss();
    const reply = await t.call('GET', '/metrics', { key: t.keys.read });
    const samples = reply.text.split('\n').filter((line) => /^rollcall_(cohort_judged_ratio|guard_tolerance_ratio)\{/.test(line));
    expect(samples.length).toBeGreaterThan(5);
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-rule-'));
    try {
      writeFileSync(join(dir, 'rule.yml'), documentedRule());
      const series = samples.map((line) => {
        const [, name, value] = /^(\S+\})\s+(\S+)$/.exec(line)!;
        return `      - series: '${name}'\n        values: '${value}x20'`;
      });
      writeFileSync(
        join(dir, 'test.yml'),
        `rule_files: [rule.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n${series.join('\n')}\n    alert_rule_test:\n      - eval_time: 10m\n        alertname: RollcallCohortOverTolerance\n        exp_alerts:\n          - exp_labels: { severity: warning, rollout: queue, cohort: c1, guard: loss }\n            exp_annotations:\n              summary: 'Rollout queue: loss in c1 is over its tolerance'\n              description: 'As the health API and the dashboard show it (mismatches net of learned noise); the guard reverts once its evidence is enough.'\n`,
      );
      const check = spawnSync('promtool', ['check', 'rules', 'rule.yml'], { cwd: dir, encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const run = spawnSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
      expect(run.status, run.stdout + run.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
