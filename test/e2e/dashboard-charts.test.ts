/**
 * The rollout page's charts in Debian's Chromium (playwright-core) against a
 * real server fed by the SDK: a rewrite whose outputs differ only in a
 * learned-noise traceId draws its mismatch rate at 0 % under the guard line,
 * as the table says; a 1 % cohort losing 12 messages beside a baseline of
 * thousands shows its loss on its own scale, far above its guard. Each rate
 * chart ends on the table's figure. Screenshots go to ROLLCALL_SCREENS
 * (default test-results/charts/): look at them.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { launchChromium, signIn } from '../helpers/chromium.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const SHOTS = process.env.ROLLCALL_SCREENS ?? 'test-results/charts';
const partners = Array.from({ length: 4000 }, (_, i) => `partner-${i}`);

let live: LiveServer;
let browser: Browser;
let sdk: RollcallClient;

async function api(method: string, path: string, body?: unknown) {
  const reply = await live.api(method, path, body);
  if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** What the page draws and what its table says, read in one task (the live refresh may replace both between two calls). */
async function drawnAndTable(page: Page, cohort: string, chart: string, column: number) {
  return page.evaluate(`(() => {
    const figure = document.querySelector('figure.chart[data-cohort="${cohort}"][data-chart="${chart}"]');
    const last = figure?.querySelector('g[data-series="${cohort}"]')?.getAttribute('data-last');
    const cell = document.querySelector('#cohorts tr[data-cohort="${cohort}"]')?.querySelectorAll('td')[${column}]?.textContent;
    const y = [...(figure?.querySelectorAll('circle.point') ?? [])].at(-1)?.getBoundingClientRect().y;
    const guard = figure?.querySelector('line.threshold')?.getBoundingClientRect().y;
    return { last: last == null ? null : Number(last), drift: figure?.getAttribute('data-drift'), cell, y, guard };
  })()`) as Promise<{ last: number | null; drift: string; cell: string; y: number; guard: number }>;
}

/**
 * Stops the page's live refresh before screenshots: it replaces each `[data-live]` element every
 * 500 ms here, and an element replaced while a screenshot waits for it to be stable is "not attached
 * to the DOM" (seen once in a full run). Every later fetch of a live fragment is refused (the page
 * keeps what it shows); one already in flight still lands, so wait that out.
 */
async function freeze(page: Page) {
  await page.route('**/live', (route) => route.abort());
  await page.waitForTimeout(1_500);
}

const record = (i: number) => ({ id: `evt_${i}`, amount: 1_000 + i, traceId: randomUUID() });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  live = await startLiveServer({ tickMs: 100, deps: { dashboardLiveMs: 500 } });
  await api('POST', '/v1/rollouts', { key: 'ledger-export-v2', description: 'a correct rewrite; every output has a fresh traceId', plan: [{ live: 0, shadow: 100 }, { live: 100 }], guards: { minSample: 100 } });
  await api('POST', '/v1/rollouts', { key: 'queue-consumer-v2', description: 'c1 (1 %) loses 12 messages; a breach pauses', plan: [{ live: 1 }, { live: 100 }], guards: { graceSeconds: 2, minSample: 100 }, onBreach: 'pause' });
  for (const key of ['ledger-export-v2', 'queue-consumer-v2']) await api('POST', `/v1/rollouts/${key}/start`, { reason: 'first step' });
  sdk = createClient({ url: live.url, sdkKey: live.sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} }, compare: { learnNoise: 0.3 } });
  await sdk.ready();
  await waitFor(() => sdk.path('ledger-export-v2', partners[0]!) === 'shadow', 5_000, 'the SDK to hold the snapshot');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await sdk?.close();
  await live?.close();
});

describe('charts that agree with the table, in Chromium', { timeout: 120_000 }, () => {
  it('a noise-only rewrite: mismatch 0 % in the table and on the chart, under the guard line', async () => {
    for (let i = 0; i < 400; i++) {
      await sdk.run('ledger-export-v2', { partnerId: partners[i % 200]!, messageId: `l-${i}` }, { old: async () => record(i), new: async () => record(i) });
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await sdk.flush();
    await waitFor(async () => ((await api('GET', '/v1/rollouts/ledger-export-v2/health')).cohorts.find((c: any) => c.name === 'shadow')?.compared ?? 0) >= 390, 15_000, 'the comparisons to arrive');
    const health = await api('GET', '/v1/rollouts/ledger-export-v2/health');
    const shadow = health.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow.withdrawn).toBeGreaterThan(300);
    expect(shadow.rates.mismatch).toBeLessThan(0.01);

    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await signIn(page, live.url, live.adminKey, '/rollouts/ledger-export-v2');
    const chart = page.locator('figure.chart[data-cohort="shadow"][data-chart="mismatch"]');
    await chart.locator('circle.point').first().waitFor();
    const seen = await drawnAndTable(page, 'shadow', 'mismatch', 12);
    expect(seen.drift).toBe('0');
    expect(seen.cell).toBe(`${((seen.last ?? NaN) * 100).toFixed(2)}%`);
    expect(seen.last).toBeLessThan(0.01);
    // Drawn under the guard line (larger y is lower on the page).
    expect(seen.y).toBeGreaterThan(seen.guard);
    await freeze(page);
    await chart.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/noise-only-rollout.png`, fullPage: true });
    await chart.screenshot({ path: `${SHOTS}/noise-only-mismatch-chart.png` });
    await page.close();
  });

  it('a 1 % cohort losing 12 messages beside a big baseline: its own scale, its loss far above its guard', async () => {
    const c1 = partners.filter((p) => positionOf('queue-consumer-v2', p) < 100);
    const rest = partners.filter((p) => positionOf('queue-consumer-v2', p) >= 100);
    let lost = 0;
    for (let burst = 0; burst < 6; burst++) {
      for (let i = 0; i < 28; i++) {
        const message = { partnerId: c1[i % c1.length]!, messageId: `c1-${burst}-${i}` };
        sdk.received('queue-consumer-v2', message);
        if (burst < 3 && i % 7 === 0) lost++;
        else sdk.processed('queue-consumer-v2', message);
      }
      for (let i = 0; i < 2000; i++) {
        const message = { partnerId: rest[i % rest.length]!, messageId: `b-${burst}-${i}` };
        sdk.received('queue-consumer-v2', message);
        sdk.processed('queue-consumer-v2', message);
      }
      await sdk.flush();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect(lost).toBe(12);
    // onBreach pause: c1 stays on new, so all 12 are lost on the path c1 is measured on.
    await waitFor(async () => (await api('GET', '/v1/rollouts/queue-consumer-v2')).state === 'paused', 20_000, 'the controller to pause on the breach');
    await waitFor(async () => (await api('GET', '/v1/rollouts/queue-consumer-v2/health')).cohorts.find((c: any) => c.name === 'c1')?.lost === 12, 15_000, 'the 12 lost messages');

    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await signIn(page, live.url, live.adminKey, '/rollouts/queue-consumer-v2');
    const loss = page.locator('figure.chart[data-cohort="c1"][data-chart="loss"]');
    await loss.locator('circle.point').first().waitFor();
    const seen = await drawnAndTable(page, 'c1', 'loss', 10);
    expect(seen.drift).toBe('0');
    expect(seen.cell).toBe(`${((seen.last ?? NaN) * 100).toFixed(2)}%`);
    expect(seen.last).toBeGreaterThan(0.01);
    expect(seen.y).toBeLessThan(seen.guard);
    // The 12 lost messages are dots on c1's own counts chart, whose scale is c1's (tens), not the baseline's (thousands).
    const counts = page.locator('figure.chart[data-cohort="c1"][data-chart="counts"]');
    expect(Number(await counts.locator('[data-series="c1 lost"]').getAttribute('data-total'))).toBe(12);
    expect(await counts.locator('[data-series="c1 lost"] circle.point').count()).toBeGreaterThan(0);
    const top = Number((await counts.locator('svg text').nth(4).textContent())?.replace(/,/g, ''));
    expect(top).toBeLessThan(200);
    await freeze(page);
    await loss.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/small-cohort-loss.png`, fullPage: true });
    await page.locator('section.cohort-charts[data-cohort="c1"]').screenshot({ path: `${SHOTS}/small-cohort-loss-charts.png` });
    await page.close();
  });
});
