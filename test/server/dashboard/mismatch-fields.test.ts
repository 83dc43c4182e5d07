import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { csrfToken } from '../../../server/dashboard/session.ts';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  await t.call('POST', '/v1/rollouts', { body: { key: 'hooks', plan: [{ live: 0, shadow: 100 }], guards: { minSample: 1_000 } } });
  await t.call('POST', '/v1/rollouts/hooks/start');
  const now = t.clock.now();
  // 120 compared: every one differs in handledAt, 30 also in type; two old runs differed in handledAt 25 times of 25.
  await sendReport(t, {
    counts: [
      {
        rollout: 'hooks', cohort: 'shadow', path: 'shadow', second: Math.floor(now / 1000), received: 120, processed: 120, failed: 0, compared: 120, mismatched: 120, skipped: 0, dropped: 0,
        differences: [{ paths: ['$.handledAt'], count: 90 }, { paths: ['$.handledAt', '$.type'], count: 30 }],
      },
    ],
    noise: [{ rollout: 'hooks', paths: ['$.handledAt'], runs: 25, counts: [25] }],
    mismatches: [
      { rollout: 'hooks', cohort: 'shadow', messageId: 'm-1', partnerId: 'p-1', at: now, authoritative: 'old', kind: 'diff', diffs: [{ path: '$.handledAt', old: '10:00:01', new: '10:00:02' }, { path: '$.type', old: 'invoice.paid', new: 'invoice.created' }] },
    ],
  });
});
afterEach(() => t.close());

async function page(path: string, key: string, form?: Record<string, string>) {
  const headers = new Headers({ cookie: `rollcall_session=${key}` });
  if (form) {
    headers.set('content-type', 'application/x-www-form-urlencoded');
    headers.set('origin', 'http://localhost');
  }
  const res = await t.rollcall.app.request(path, { method: form ? 'POST' : 'GET', headers, body: form ? new URLSearchParams(form).toString() : undefined });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('differences by field on the rollout page', () => {
  it('ranks the real difference first and keeps noise apart, collapsed, in the table and in the samples', async () => {
    const { text } = await page('/rollouts/hooks', t.keys.read);
    const table = text.slice(text.indexOf('id="mismatch-fields"'), text.indexOf('id="noise-fields"'));
    expect(table).toContain('data-field="$.type"');
    expect(table).toContain('30 of 120');
    expect(table).not.toContain('$.handledAt');
    const noise = text.slice(text.indexOf('id="noise-fields"'));
    expect(text).toMatch(/<details id="noise-fields"><summary>noise and ignored fields \(1\)/);
    expect(noise).toContain('data-field="$.handledAt"');
    expect(noise).toContain('120 of 120');
    // The sample shows the type plainly and the timestamp under a collapsed "noise".
    const sample = text.slice(text.indexOf('id="mismatches"'));
    expect(sample.indexOf('<del>invoice.paid</del>')).toBeLessThan(sample.indexOf('<summary>noise (1)</summary>'));
    expect(sample).toMatch(/<summary>noise \(1\)<\/summary><div><code>\$\.handledAt<\/code>/);
    // The health figures agree: 90 of 120 withdrawn as noise.
    const shadow = (await t.call('GET', '/v1/rollouts/hooks/health')).body.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 120, mismatched: 30, withdrawn: 90 });
    expect(text).not.toContain('id="ignore-field"'); // a read key gets no form
  });

  it('lets an admin ignore a field with a reason: audited, in the snapshot, and the window re-counted', async () => {
    const csrf = csrfToken(t.keys.admin);
    expect((await page('/rollouts/hooks', t.keys.admin)).text).toContain('<option value="$.type">$.type</option>');
    expect((await page('/rollouts/hooks/ignore', t.keys.read, { csrf: csrfToken(t.keys.read), path: '$.type', reason: 'x' })).status).toBe(403);
    expect((await page('/rollouts/hooks/ignore', t.keys.admin, { path: '$.type', reason: 'x' })).status).toBe(403);
    const bad = await page('/rollouts/hooks/ignore', t.keys.admin, { csrf, path: 'type', reason: 'labels are being renamed' });
    expect(bad.status).toBe(303);
    expect((await t.call('GET', '/v1/rollouts/hooks')).body.compare).toEqual({});

    const done = await page('/rollouts/hooks/ignore', t.keys.admin, { csrf, path: '$.type', reason: 'the type is renamed on purpose', version: '2' });
    expect(done.status).toBe(303);
    expect(decodeURIComponent(done.headers.get('set-cookie')!)).toContain('$.type is ignored from now on');
    const rollout = (await t.call('GET', '/v1/rollouts/hooks')).body;
    expect(rollout.compare).toEqual({ ignore: ['$.type'] });
    const entry = (await t.call('GET', '/v1/audit?rollout=hooks')).body.items[0];
    expect(entry).toMatchObject({ action: 'rollout.updated', actor: t.keys.adminId, reason: 'the type is renamed on purpose', after: { compare: { ignore: ['$.type'] } } });
    const config = (await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).body;
    expect(config.rollouts[0].compare).toEqual({ ignore: ['$.type'] });
    const shadow = (await t.call('GET', '/v1/rollouts/hooks/health')).body.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 120, mismatched: 0, withdrawn: 120 });
  });
});
