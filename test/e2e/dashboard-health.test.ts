/**
 * Cohort health at a glance, in Debian's Chromium (playwright-core) against a
 * real server fed by the SDK: after an automatic revert the list says
 * *reverted*, why, and what share is really on new; the resume form brings a
 * cohort back; a single mismatch point is drawn; a completed rollout's loss
 * shows up. Screenshots go to ROLLCALL_SCREENS (default test-results/health/).
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { launchChromium, signIn } from '../helpers/chromium.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const SHOTS = process.env.ROLLCALL_SCREENS ?? 'test-results/health';
const partners = Array.from({ length: 2000 }, (_, i) => `partner-${i}`);

let live: LiveServer;
let browser: Browser;
let sdk: RollcallClient;

async function api(method: string, path: string, body?: unknown) {
  const reply = await live.api(method, path, body);
  if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** `count` messages of partners inside [0, toBp) received, every `dropEvery`-th never processed. */
function traffic(key: string, toBp: number, count: number, dropEvery: number, tag: string) {
  const members = partners.filter((p) => positionOf(key, p) < toBp);
  for (let i = 0; i < count; i++) {
    const message = { partnerId: members[i % members.length]!, messageId: `${key}-${tag}-${i}` };
    sdk.received(key, message);
    if (i % dropEvery !== 0) sdk.processed(key, message);
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  live = await startLiveServer({ tickMs: 100, deps: { dashboardLiveMs: 500 } });
  const guards = { graceSeconds: 2, minSample: 20 };
  await api('POST', '/v1/rollouts', { key: 'queue-consumer-v2', description: 'drops 10% once live', plan: [{ live: 50 }, { live: 100 }], guards });
  await api('POST', '/v1/rollouts', { key: 'hand-reverted', description: 'c1 pulled back by hand, the rest running', plan: [{ live: 20 }, { live: 100 }], guards });
  await api('POST', '/v1/rollouts', { key: 'shadow-once', description: 'one burst of shadow comparisons', plan: [{ live: 0, shadow: 100 }, { live: 100 }], guards });
  await api('POST', '/v1/rollouts', { key: 'done-then-lost', description: 'completed, then a change drops messages', plan: [{ live: 100 }], guards });
  for (const key of ['queue-consumer-v2', 'hand-reverted', 'shadow-once', 'done-then-lost']) await api('POST', `/v1/rollouts/${key}/start`, { reason: 'first step' });
  await api('POST', '/v1/rollouts/done-then-lost/complete', { reason: 'every partner on new' });
  await api('POST', '/v1/rollouts/hand-reverted/revert', { cohort: 'c1', reason: 'partner 42 sees duplicates' });
  await api('POST', '/v1/rollouts/hand-reverted/resume', { reason: 'the rest may go on' });
  sdk = createClient({ url: live.url, sdkKey: live.sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} } });
  await sdk.ready();
  await waitFor(() => sdk.path('done-then-lost', partners[0]!) === 'new' && sdk.path('shadow-once', partners[0]!) === 'shadow', 5_000, 'the SDK to hold the snapshot');
  traffic('queue-consumer-v2', 5000, 200, 10, 'a');
  traffic('done-then-lost', 10_000, 200, 5, 'a');
  // One comparison, so one chart bucket: a single point.
  await sdk.run('shadow-once', { partnerId: partners[0]!, messageId: 's-0' }, { old: async () => ({ type: 'invoice.paid' }), new: async () => ({ type: 'invoice.created' }) });
  await sdk.flush();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await sdk?.close();
  await live?.close();
});

describe('cohort health in Chromium', { timeout: 90_000 }, () => {
  it('after an automatic revert the list says reverted, why, and the share really on new; a completed rollout shows its loss', async () => {
    await waitFor(async () => (await api('GET', '/v1/rollouts/queue-consumer-v2')).cohorts[0].status === 'reverted', 15_000, 'the controller to revert c1');
    await waitFor(async () => (await api('GET', '/v1/rollouts/done-then-lost')).health.status === 'breached', 15_000, 'the watch after completion to find the loss');
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await signIn(page, live.url, live.adminKey);
    const row = page.locator('tr[data-rollout="queue-consumer-v2"]');
    await row.waitFor();
    expect(await row.locator('td.health').getAttribute('data-health')).toBe('reverted');
    expect(await row.locator('td.health .reason').textContent()).toMatch(/^c1 reverted by a guard \(controller\): guard loss breached in c1: loss [\d.]+% vs tolerated [\d.]+%: evidence passed 1\/α \(.*\) after \d+ messages; \d+ of \d+ due messages lost/);
    expect(await row.locator('td.live').textContent()).toBe('0% on new (step: 50%)');
    const done = page.locator('tr[data-rollout="done-then-lost"]');
    expect(await done.locator('td.health').getAttribute('data-health')).toBe('breached');
    expect(await done.locator('td.health .reason').textContent()).toMatch(/guard loss breached/);
    expect(await page.locator('tr[data-rollout="hand-reverted"] td.health').getAttribute('data-health')).toBe('reverted');
    await page.screenshot({ path: `${SHOTS}/list-after-revert.png`, fullPage: true });

    await page.goto(`${live.url}/rollouts/done-then-lost`);
    await page.locator('#cohorts').waitFor();
    expect(await page.locator('#health').getAttribute('data-health')).toBe('breached');
    expect(await page.locator('#audit').textContent()).toContain('guard.breached');
    await page.screenshot({ path: `${SHOTS}/completed-with-loss.png`, fullPage: true });
    await page.close();
  });

  it('the resume form lists the reverted cohort with a checkbox and brings it back in one action', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await signIn(page, live.url, live.adminKey, '/rollouts/hand-reverted');
    const box = page.locator('#resume input[type=checkbox][name=cohorts][value=c1]');
    expect(await box.isChecked()).toBe(true);
    await page.fill('#resume input[name=reason]', 'duplicates explained');
    await Promise.all([page.waitForURL(/\/rollouts\/hand-reverted$/), page.click('#resume button[type=submit]')]);
    await page.locator('.flash.ok').waitFor();
    expect(await page.locator('.flash.ok').textContent()).toContain('c1 back on new');
    const after = await api('GET', '/v1/rollouts/hand-reverted');
    expect(after).toMatchObject({ state: 'running', effectiveLive: 20, cohorts: [{ name: 'c1', status: 'active' }] });
    const entry = (await api('GET', '/v1/audit?rollout=hand-reverted')).items[0];
    expect(entry).toMatchObject({ action: 'rollout.resumed', reason: 'duplicates explained', actor: expect.any(String) });
    await page.close();
  });

  it('draws a single mismatch point, the guard line, and the decisions on the time axis of every chart', async () => {
    await waitFor(async () => (await api('GET', '/v1/rollouts/shadow-once/health')).cohorts.find((c: any) => c.name === 'shadow')?.compared === 1, 10_000, 'the comparison to arrive');
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await signIn(page, live.url, live.adminKey, '/rollouts/shadow-once');
    const chart = page.locator('figure.chart[data-cohort="shadow"][data-chart="mismatch"]');
    const point = chart.locator('svg circle.point');
    await point.waitFor();
    await page.screenshot({ path: `${SHOTS}/rollout-charts.png`, fullPage: true });
    expect(await point.count()).toBe(1);
    // Drawn, not just present: a dot of a few pixels on the page (a single point made an empty polyline before).
    // Queried and measured in one task: the live refresh may replace the chart between two protocol calls.
    const width = await page.evaluate(`document.querySelector('figure.chart[data-cohort="shadow"][data-chart="mismatch"] circle.point')?.getBoundingClientRect().width ?? 0`);
    expect(width).toBeGreaterThan(4);
    expect(await point.locator('title').textContent()).toMatch(/^shadow 100\.0% at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(await chart.locator('line.threshold').count()).toBe(1);
    expect(await chart.locator('g.marker[data-action="rollout.started"]').count()).toBe(1);
    expect(await page.locator('#charts ul.markers').textContent()).toContain('rollout.started by');
    expect(await page.locator('figure.chart .bucket').first().textContent()).toMatch(/bucket \d+ s/);
    await page.screenshot({ path: `${SHOTS}/rollout-charts.png`, fullPage: true });
    await page.goto(`${live.url}/rollouts/queue-consumer-v2`);
    await page.locator('#cohorts').waitFor();
    expect(await page.locator('#cohorts tr[data-cohort="c1"]').getAttribute('data-health')).toBe('reverted');
    // Marked on each of c1's charts: its counts, its loss and its failure rate over the baseline's.
    expect(await page.locator('figure.chart[data-cohort="c1"] g.marker[data-action="cohort.reverted"]').count()).toBe(3);
    await page.screenshot({ path: `${SHOTS}/rollout-after-revert.png`, fullPage: true });
    await page.close();
  });
});
