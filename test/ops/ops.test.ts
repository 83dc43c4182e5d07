/**
 * The operations kit under ops/: the Prometheus alert rules pass `promtool check rules` and their own
 * `promtool test rules`, and every metric the rules and the Grafana dashboard name is one a real
 * server serves at /metrics (which itself passes `promtool check metrics`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../helpers/test-app.ts';

const RULES = join(ROOT, 'ops/prometheus/rollcall-rules.yml');
const DASHBOARD = join(ROOT, 'ops/grafana/rollcall-dashboard.json');
const promtool = (args: string[], input?: string) => spawnSync('promtool', args, { cwd: join(ROOT, 'ops/prometheus'), encoding: 'utf8', input });

let t: TestApp;
let scrape = '';
beforeAll(async () => {
  t = await createTestApp();
  await createRollout(t, 'hooks', { plan: [{ live: 50 }] });
  await t.call('POST', '/v1/rollouts/hooks/start');
  await sendTraffic(t, 'hooks', 'c1', 10, 2);
  const res = await t.rollcall.app.request('/metrics', { headers: { authorization: `Bearer ${t.keys.admin}` } });
  scrape = await res.text();
});
afterAll(async () => {
  await t.close();
});

/** Metric families the scrape declares (`# TYPE name kind`), with a histogram's series names. */
function served(): Set<string> {
  const names = new Set<string>();
  for (const [, name, kind] of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

const metricsIn = (expr: string) => [...expr.matchAll(/\brollcall_[a-z_]+\b/g)].map((m) => m[0]);

describe('the operations kit', () => {
  it('alert rules pass promtool check rules and their own promtool test rules', () => {
    const check = promtool(['check', 'rules', RULES]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 7 rules found');
    const test = promtool(['test', 'rules', 'rollcall-rules.test.yml']);
    expect(test.status, test.stdout + test.stderr).toBe(0);
  });

  it("Rollcall's own metrics pass promtool check metrics", () => {
    expect(scrape).toContain('rollcall_received_total');
    // prom-client's default process metrics name three gauges `nodejs_active_*_total`, which the lint
    // refuses; they are the library's, so the lint is run on the rollcall_ families.
    const own = scrape
      .split('\n')
      .filter((line) => /^(# (HELP|TYPE) )?rollcall_/.test(line))
      .join('\n');
    const check = promtool(['check', 'metrics'], `${own}\n`);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const everything = promtool(['check', 'metrics'], scrape);
    expect((everything.stdout + everything.stderr).trim().split('\n').filter((line) => line !== '' && !line.startsWith('nodejs_active_'))).toEqual([]);
  });

  it('every metric the rules and the dashboard name is served', () => {
    const names = served();
    const rules = readFileSync(RULES, 'utf8');
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(exprs).toHaveLength(7);
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { query: unknown }[] } };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    exprs.push(...dashboard.panels.flatMap((p) => p.targets.map((target) => target.expr)), ...dashboard.templating.list.map((v) => String(v.query)));
    const named = new Set(exprs.flatMap(metricsIn));
    expect(named.size).toBeGreaterThanOrEqual(15);
    for (const name of named) expect(names, `${name} is named but not served`).toContain(name);
  });
});
