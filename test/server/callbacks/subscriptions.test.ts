import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.ts';
import { createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp({ deps: { callbacks: { allow: loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow } } });
});
afterEach(() => t.close());

const create = (body: unknown, key?: string) => t.call('POST', '/v1/callbacks', { body, key });

describe('callback subscriptions', () => {
  it('returns the id and a whsec_ secret once, and never shows the secret again', async () => {
    const reply = await create({ url: 'https://hooks.example.com/rollcall', rollout: 'psa-webhooks-v2', events: ['cohort.reverted', 'rollout.reverted'], description: 'pager' });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ url: 'https://hooks.example.com/rollcall', rollout: 'psa-webhooks-v2', events: ['cohort.reverted', 'rollout.reverted'], description: 'pager', status: 'enabled' });
    expect(reply.body.id).toMatch(/^cb_[0-9A-Za-z]{24}$/);
    expect(Buffer.from(reply.body.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

    const got = await t.call('GET', `/v1/callbacks/${reply.body.id}`, { key: t.keys.read });
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(reply.body.secret.slice(6));
    const listed = await t.call('GET', '/v1/callbacks', { key: t.keys.read });
    expect(listed.body.items.map((c: any) => c.id)).toEqual([reply.body.id]);
    expect(listed.text).not.toContain('whsec_');
  });

  it('deletes softly and enables again, with an audit entry for each change', async () => {
    const { id } = (await create({ url: 'https://hooks.example.com/a' })).body;
    expect((await t.call('DELETE', `/v1/callbacks/${id}`)).body.status).toBe('deleted');
    expect((await t.call('GET', '/v1/callbacks')).body.items).toEqual([]);
    expect((await t.call('GET', '/v1/callbacks?status=deleted')).body.items.map((c: any) => c.id)).toEqual([id]);
    expect((await t.call('GET', `/v1/callbacks/${id}`)).body.status).toBe('deleted');
    expect((await t.call('POST', `/v1/callbacks/${id}/enable`, { body: { reason: 'receiver fixed' } })).body).toMatchObject({ status: 'enabled', statusReason: 'receiver fixed' });
    const audit = await t.call('GET', '/v1/audit');
    expect(audit.body.items.map((e: any) => e.action).filter((a: string) => a.startsWith('callback.'))).toEqual(['callback.enabled', 'callback.deleted', 'callback.created']);
    expect(audit.text).not.toContain('whsec_');
  });

  it('rotates the secret: a new one, the old one signing for 24 h more', async () => {
    const { id, secret } = (await create({ url: 'https://hooks.example.com/a' })).body;
    const rotated = await t.call('POST', `/v1/callbacks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - t.clock.now()).toBe(24 * 3_600_000);
    expect((await t.call('GET', `/v1/callbacks/${id}`)).body.previousSecretExpiresAt).toBe(rotated.body.previousSecretExpiresAt);
  });

  it('refuses bad URLs and addresses that can never be called, storing nothing', async () => {
    const before = await t.dump();
    const cases: [unknown, string][] = [
      [{ url: 'ftp://hooks.example.com/a' }, 'http or https'],
      [{ url: 'https://user:pass@hooks.example.com/a' }, 'credentials'],
      [{ url: 'hooks.example.com/a' }, 'absolute'],
      [{ url: 'http://169.254.169.254/latest/meta-data' }, 'metadata'],
      [{ url: 'http://[fe80::1]/a' }, 'link-local'],
      [{ url: 'http://10.0.0.7/hooks' }, 'ROLLCALL_CALLBACK_ALLOW'],
      [{ url: 'https://hooks.example.com/a', events: ['rollout.exploded'] }, 'events'],
      [{ url: 'https://hooks.example.com/a', rollout: 'Not A Key' }, 'rollout'],
      [{ url: 'https://hooks.example.com/a', secret: 'mine' }, 'secret'],
      [{ url: 'x'.repeat(3000) }, 'url'],
    ];
    for (const [body, hint] of cases) {
      const reply = await create(body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.text, JSON.stringify(body)).toContain(hint);
    }
    expect(await t.dump()).toEqual(before);
    // Loopback is allowed here because this server's allow-list names 127.0.0.0/8.
    expect((await create({ url: 'http://127.0.0.1:9/hooks' })).status).toBe(201);
  });

  it('lets a read key look but not change, and an SDK key do neither', async () => {
    const { id } = (await create({ url: 'https://hooks.example.com/a' })).body;
    expect((await create({ url: 'https://hooks.example.com/b' }, t.keys.read)).status).toBe(403);
    expect((await t.call('DELETE', `/v1/callbacks/${id}`, { key: t.keys.read })).status).toBe(403);
    expect((await t.call('POST', `/v1/callbacks/${id}/rotate-secret`, { key: t.keys.read })).status).toBe(403);
    expect((await t.call('GET', `/v1/callbacks/${id}/deliveries`, { key: t.keys.read })).status).toBe(200);
    expect((await t.call('GET', '/v1/callbacks', { key: t.keys.sdk })).status).toBe(403);
  });

  it('answers 404 for unknown ids and 400 for malformed ones', async () => {
    expect((await t.call('GET', '/v1/callbacks/cb_nothere')).status).toBe(404);
    expect((await t.call('GET', '/v1/callbacks/not-an-id')).status).toBe(400);
    expect((await t.call('POST', '/v1/deliveries/dlv_nothere/retry')).status).toBe(404);
    expect((await t.call('POST', '/v1/callbacks/cb_nothere/recover', { body: { since: 'yesterday' } })).status).toBe(400);
    expect((await t.call('GET', '/v1/callbacks/cb_x/deliveries?before=garbage')).status).toBe(404);
  });
});
