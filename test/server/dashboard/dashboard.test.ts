import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { csrfToken } from '../../../server/dashboard/session.ts';
import { createRollout, createTestApp, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
const ORIGIN = 'http://localhost';
beforeEach(async () => {
  t = await createTestApp();
  await createRollout(t, 'psa-webhooks-v2', { plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }], description: 'webhook handler rewrite' });
  await t.call('POST', '/v1/rollouts/psa-webhooks-v2/start', { body: { reason: 'shadow first' } });
  await t.call('POST', '/v1/rollouts/psa-webhooks-v2/advance');
});
afterEach(() => t.close());

/** A browser-like request: the session cookie, and for forms the site's own Origin. */
async function page(path: string, options: { key?: string; form?: Record<string, string>; origin?: string | null } = {}) {
  const headers = new Headers();
  if (options.key) headers.set('cookie', `rollcall_session=${options.key}`);
  let body: string | undefined;
  if (options.form) {
    headers.set('content-type', 'application/x-www-form-urlencoded');
    if (options.origin !== null) headers.set('origin', options.origin ?? ORIGIN);
    body = new URLSearchParams(options.form).toString();
  }
  const res = await t.rollcall.app.request(path, { method: options.form ? 'POST' : 'GET', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('the dashboard', () => {
  it('shows nothing about any rollout without a valid key', async () => {
    for (const path of ['/', '/rollouts/psa-webhooks-v2']) {
      const reply = await page(path);
      expect(reply.status).toBe(303);
      expect(reply.headers.get('location')).toMatch(/^\/login/);
      expect(reply.text).not.toContain('psa-webhooks-v2');
    }
    expect((await page('/live')).status).toBe(401);
    expect((await page('/rollouts/psa-webhooks-v2/live')).status).toBe(401);
    const forged = await page('/', { key: 'rc_read_not-a-real-key-0123456789abcdef' });
    expect(forged.status).toBe(303);
    const withSdkKey = await page('/', { key: t.keys.sdk });
    expect(withSdkKey.status).toBe(303);
    const login = await page('/login');
    expect(login.status).toBe(200);
    expect(login.text).toContain('Sign in');
    // Standards mode, and a tab icon inline so that no page asks for a /favicon.ico that is not there.
    expect(login.text.startsWith('<!DOCTYPE html><html lang="en"')).toBe(true);
    expect(login.text).toMatch(/<link rel="icon" href="data:image\/svg\+xml,/);
    expect((await page('/docs')).text.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(login.text).not.toContain('psa-webhooks-v2');
  });

  it('signs in with a read key into an HttpOnly, SameSite=Strict cookie, and refuses an SDK key', async () => {
    const ok = await page('/login', { form: { key: t.keys.read, next: '/rollouts/psa-webhooks-v2' } });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/rollouts/psa-webhooks-v2');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^rollcall_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const elsewhere = await page('/login', { form: { key: t.keys.read, next: '//evil.example/' } });
    expect(elsewhere.headers.get('location')).toBe('/');
    const sdk = await page('/login', { form: { key: t.keys.sdk } });
    expect(sdk.status).toBe(401);
    expect(sdk.text).toContain('An SDK key cannot sign in');
    const crossSite = await page('/login', { form: { key: t.keys.read }, origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
  });

  it('lists rollouts with state, step, shares, a health badge and the last decision', async () => {
    const reply = await page('/', { key: t.keys.read });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('href="/rollouts/psa-webhooks-v2"');
    expect(reply.text).toContain('running');
    expect(reply.text).toContain('2 of 3');
    expect(reply.text).toContain('5%');
    // One status with its reason: c1 has had no traffic yet.
    expect(reply.text).toMatch(/data-health="idle"><span class="badge muted">idle<\/span><div class="muted reason"[^>]*>c1: 0 of 100 due messages; 100 more before it is called healthy/);
    expect(reply.text).toContain('rollout.advanced');
    // One time format: UTC in ISO order, with its age.
    expect(reply.text).toMatch(/2026-11-01 12:00:00Z \(0 s ago\)/);
  });

  it('shows a rollout: the plan, cohorts with figures, charts, lost messages, diffs and the audit trail', async () => {
    await sendTraffic(t, 'psa-webhooks-v2', 'c1', 120, 12);
    const now = t.clock.now();
    await sendReport(t, {
      mismatches: [{ rollout: 'psa-webhooks-v2', cohort: 'shadow', messageId: 'm-77', partnerId: 'p-9', at: now, authoritative: 'old', kind: 'diff', diffs: [{ path: '$.event.type', old: 'invoice.paid', new: 'invoice.created' }] }],
    });
    t.clock.advance(31_000);
    await t.rollcall.services.controller.tick();
    const reply = await page('/rollouts/psa-webhooks-v2', { key: t.keys.read });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('aria-label="plan"');
    expect(reply.text).toMatch(/data-cohort="c1" data-status="reverted"/); // 12 of 120 lost: evidence enough, the guard reverted it
    expect(reply.text).toMatch(/data-cohort="c1" data-status="reverted" data-health="reverted"/);
    expect(reply.text).toContain('figures up to its revert, 2026-11-01 12:00:31Z (0 s ago)');
    expect(reply.text).toContain('data-series="c1 received"');
    expect(reply.text).toContain('c1-'); // a lost message id
    expect(reply.text).toContain('<del>invoice.paid</del>');
    expect(reply.text).toContain('<ins>invoice.created</ins>');
    expect(reply.text).toContain('guard.breached');
    expect(reply.text).not.toContain('id="actions"'); // a read key gets no controls
    expect(reply.text).toMatch(/<\/span> <span class="live-dot"/); // the reason and the live note never run together
    const live = await page('/rollouts/psa-webhooks-v2/live', { key: t.keys.read });
    expect(live.text).toMatch(/^<section id="rollout-live"/);
  });

  it('names a lagging reporter, then the same one gone once silent past the reporter timeout', async () => {
    const heard = (batchId: string) =>
      sendReport(t, { batchId, sdk: { name: 't', version: '1', instanceId: 'worker-7' }, watermark: t.clock.now(), counts: [], messages: [{ rollout: 'psa-webhooks-v2', messageId: batchId, partnerId: 'p', cohort: 'c1', path: 'new', status: 'failed', at: t.clock.now() }] });
    await heard('batch-one-1');
    expect((await page('/rollouts/psa-webhooks-v2', { key: t.keys.read })).text).not.toContain('worker-7');
    t.clock.advance(40_000);
    expect((await page('/rollouts/psa-webhooks-v2', { key: t.keys.read })).text).toContain('worker-7 40 s behind');
    t.clock.advance(21_000);
    await t.rollcall.services.controller.tick();
    const gone = await page('/rollouts/psa-webhooks-v2', { key: t.keys.read });
    expect(gone.text).toMatch(/worker-7 gone since \d{4}-/);
    const health = (await t.call('GET', '/v1/rollouts/psa-webhooks-v2/health')).body;
    expect(health).toMatchObject({ degraded: true, reporters: { live: 0, lagging: [], gone: [{ instanceId: 'worker-7' }] } });
    // Reporting again brings it back.
    await heard('batch-two-2');
    expect((await t.call('GET', '/v1/rollouts/psa-webhooks-v2/health')).body).toMatchObject({ degraded: false, degradedReason: null, reporters: { live: 1, lagging: [], gone: [] } });
  });

  it('lets an admin act with a reason and shows the result; refuses without the token, from elsewhere, or for a read key', async () => {
    const csrf = csrfToken(t.keys.admin);
    const path = '/rollouts/psa-webhooks-v2/actions/revert';
    expect((await page(path, { key: t.keys.admin, form: { cohort: 'c1', reason: 'x' } })).status).toBe(403);
    expect((await page(path, { key: t.keys.admin, form: { csrf, cohort: 'c1', reason: 'x' }, origin: 'https://evil.example' })).status).toBe(403);
    expect((await page(path, { key: t.keys.admin, form: { csrf, cohort: 'c1', reason: 'x' }, origin: null })).status).toBe(403);
    expect((await page(path, { key: t.keys.read, form: { csrf: csrfToken(t.keys.read), cohort: 'c1', reason: 'x' } })).status).toBe(403);
    expect((await t.call('GET', '/v1/rollouts/psa-webhooks-v2')).body.cohorts[0].status).toBe('active');

    const done = await page(path, { key: t.keys.admin, form: { csrf, cohort: 'c1', reason: 'partners report missing updates' } });
    expect(done.status).toBe(303);
    const after = (await t.call('GET', '/v1/rollouts/psa-webhooks-v2')).body;
    expect(after.cohorts[0]).toMatchObject({ status: 'reverted', revertReason: 'partners report missing updates', revertedBy: t.keys.adminId });
    const flash = done.headers.get('set-cookie')!.match(/rollcall_flash=([^;]+)/)![1]!;
    const shown = await t.rollcall.app.request('/rollouts/psa-webhooks-v2', { headers: { cookie: `rollcall_session=${t.keys.admin}; rollcall_flash=${flash}` } });
    expect(await shown.text()).toContain('reverted cohort c1 — now paused, version 4');

    const noReason = await page('/rollouts/psa-webhooks-v2/actions/resume', { key: t.keys.admin, form: { csrf, reason: ' ' } });
    expect(decodeURIComponent(noReason.headers.get('set-cookie')!)).toContain('give a reason');
    expect((await t.call('GET', '/v1/rollouts/psa-webhooks-v2')).body.state).toBe('paused');
    const refused = await page('/rollouts/psa-webhooks-v2/actions/start', { key: t.keys.admin, form: { csrf, reason: 'again' } });
    expect(decodeURIComponent(refused.headers.get('set-cookie')!)).toContain('start refused');
  });

  it('sends security headers on its pages and not on the API', async () => {
    const reply = await page('/login');
    expect(reply.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(reply.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(reply.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    const api = await t.call('GET', '/v1/rollouts');
    expect(api.headers.get('content-security-policy')).toBeNull();
    expect((await t.call('GET', '/healthz', { key: null })).status).toBe(200);
  });

  it('signs out', async () => {
    const reply = await page('/logout', { key: t.keys.read, form: { csrf: csrfToken(t.keys.read) } });
    expect(reply.status).toBe(303);
    expect(reply.headers.get('set-cookie')).toMatch(/rollcall_session=;.*Max-Age=0/i);
  });

  it('describes the API as a page at /docs, without a key', async () => {
    const reply = await page('/docs');
    expect(reply.status).toBe(200);
    for (const route of ['/v1/rollouts/{key}/revert', '/v1/callbacks', '/metrics', '/openapi.json']) expect(reply.text).toContain(route);
    // What each operation answers, by the schema's name.
    expect(reply.text).toContain('201 Rollout');
    expect(reply.text).toContain('503 StorageUnavailable');
  });
});
