/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core
 * against a real server with an SDK sending traffic. Screenshots go to
 * test-results/dashboard/ (look at them: they are the point).
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { launchChromium, signIn } from '../helpers/chromium.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const SHOTS = 'test-results/dashboard';

let live: LiveServer;
let browser: Browser;
let sdk: RollcallClient;
let readKey: string;
let traffic: NodeJS.Timeout;

async function api(method: string, path: string, body?: unknown) {
  const reply = await live.api(method, path, body);
  if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  live = await startLiveServer({ tickMs: 100, deps: { dashboardLiveMs: 300 } });
  readKey = (await api('POST', '/v1/keys', { kind: 'read', name: 'dashboard viewer' })).key;
  for (const key of ['psa-webhooks-v2', 'cleanup-job']) {
    await api('POST', '/v1/rollouts', { key, description: key === 'cleanup-job' ? 'token clean-up, staged by cohort' : 'webhook handler rewrite', plan: [{ live: 50 }, { live: 100 }], guards: { graceSeconds: 30, minSample: 1000 } });
    await api('POST', `/v1/rollouts/${key}/start`, { reason: 'first cohort' });
  }
  sdk = createClient({ url: live.url, sdkKey: live.sdkKey, flushIntervalMs: 200, logger: { warn() {}, error() {} } });
  await sdk.ready();
  let n = 0;
  const send = () => {
    for (let i = 0; i < 40; i++, n++) {
      const message = { partnerId: `partner-${n % 500}`, messageId: `m-${n}` };
      void sdk.run('psa-webhooks-v2', message, { old: async () => 'ok', new: async () => 'ok' });
      void sdk.run('cleanup-job', message, { old: async () => 'ok', new: async () => 'ok' });
    }
  };
  send();
  traffic = setInterval(send, 100);
  browser = await launchChromium();
});

afterAll(async () => {
  clearInterval(traffic);
  await browser?.close();
  await sdk?.close();
  await live?.close();
});

describe('the dashboard in Chromium', () => {
  it('shows nothing without a key', async () => {
    const page = await browser.newPage();
    await page.goto(`${live.url}/rollouts/psa-webhooks-v2`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.content()).not.toContain('psa-webhooks-v2</');
    expect(await page.locator('text=webhook handler rewrite').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/1-signed-out.png` });
    await page.close();
  });

  it('with a read key: the list, a rollout with live traffic, its cohorts and a chart, and a revert appearing without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, live.url, readKey);
    await page.locator('tr[data-rollout="psa-webhooks-v2"]').waitFor();
    await page.screenshot({ path: `${SHOTS}/2-list.png`, fullPage: true });

    await Promise.all([page.waitForURL(/\/rollouts\/psa-webhooks-v2$/), page.click('a[href="/rollouts/psa-webhooks-v2"]')]);
    const c1 = page.locator('#cohorts tr[data-cohort="c1"]');
    await c1.waitFor();
    // Traffic arrives while we watch: the received count grows past zero without a reload.
    await waitFor(async () => Number((await c1.locator('td.num').first().textContent())?.replace(/,/g, '')) > 0, 10_000, 'c1 to show received messages');
    expect(await page.locator('figure.chart svg [data-series="c1 received"]').count()).toBe(1);
    expect(await page.locator('#actions').count()).toBe(0);
    await page.evaluate('window.__sameDocument = true');
    await page.screenshot({ path: `${SHOTS}/3-rollout-live.png`, fullPage: true });

    await api('POST', '/v1/rollouts/psa-webhooks-v2/revert', { cohort: 'c1', reason: 'partners report missing updates' });
    await page.locator('#cohorts tr[data-cohort="c1"][data-status="reverted"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#state').textContent()).toBe('paused');
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(await page.locator('#audit').textContent()).toContain('partners report missing updates');
    await page.screenshot({ path: `${SHOTS}/4-reverted-live.png`, fullPage: true });
    await page.close();
  });

  it('with an admin key: revert a cohort from the page, with a reason, and see it through the API', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, live.url, live.adminKey, '/rollouts/cleanup-job');
    await page.locator('#actions').waitFor();
    await page.selectOption('#actions select[name=cohort]', 'c1');
    await page.fill('#actions form:has(select) input[name=reason]', 'credentials invalidated in c1');
    await Promise.all([page.waitForURL(/\/rollouts\/cleanup-job$/), page.click('#actions button.danger')]);
    await page.locator('.flash.ok').waitFor();
    expect(await page.locator('.flash.ok').textContent()).toContain('reverted cohort c1');
    const after = await api('GET', '/v1/rollouts/cleanup-job');
    expect(after.state).toBe('paused');
    expect(after.cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted', revertReason: 'credentials invalidated in c1' });
    await page.screenshot({ path: `${SHOTS}/5-admin-reverted.png`, fullPage: true });
    await context.close();
  });

  it('reads on a phone, and with JavaScript off', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    const page = await phone.newPage();
    await signIn(page, live.url, readKey, '/rollouts/psa-webhooks-v2');
    await page.locator('#cohorts').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')).toBe(true);
    await page.screenshot({ path: `${SHOTS}/6-phone.png`, fullPage: true });
    await phone.close();

    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = await noScript.newPage();
    await signIn(plain, live.url, readKey, '/rollouts/psa-webhooks-v2');
    expect(await plain.locator('#cohorts tr[data-cohort="c1"]').count()).toBe(1);
    // c1's counts, loss and failure over the baseline's; the baseline's counts.
    expect(await plain.locator('figure.chart svg').count()).toBe(4);
    await noScript.close();
  });
});
