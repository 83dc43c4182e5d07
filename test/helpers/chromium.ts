/**
 * Debian's Chromium through playwright-core, as the dashboard's browser tests
 * drive it: launched headless, and signed in with a key through the login form.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Opens `next` on the server at `url`, is sent to the login form, and signs in with `key`. */
export async function signIn(page: Page, url: string, key: string, next = '/'): Promise<void> {
  await page.goto(`${url}${next}`);
  await page.waitForURL(/\/login/);
  await page.fill('input[name=key]', key);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}
