import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../server/app.ts';
import { manualClock } from '../../../server/clock.ts';
import { openDatabase } from '../../../server/db/database.ts';
import { hashKey, isWellFormedKey } from '../../../server/keys/key-format.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRollout, createTestApp, tempDatabaseUrl, type TestApp } from '../../helpers/test-app.ts';

const DAY = 86_400_000;
let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  await createRollout(t, 'r');
});
afterEach(async () => {
  await t.close();
});

type Kind = 'admin' | 'read' | 'sdk';
// Every route, and the kinds of key allowed on it.
const routes: [string, string, Kind[], unknown?][] = [
  ['GET', '/v1/rollouts', ['admin', 'read']],
  ['GET', '/v1/rollouts/r', ['admin', 'read']],
  ['POST', '/v1/rollouts', ['admin'], { key: 'n', plan: [{ live: 1 }] }],
  ['PATCH', '/v1/rollouts/r', ['admin'], { description: 'x' }],
  ['POST', '/v1/rollouts/r/start', ['admin']],
  ['POST', '/v1/rollouts/r/advance', ['admin']],
  ['POST', '/v1/rollouts/r/pause', ['admin']],
  ['POST', '/v1/rollouts/r/resume', ['admin']],
  ['POST', '/v1/rollouts/r/complete', ['admin']],
  ['POST', '/v1/rollouts/r/revert', ['admin'], { reason: 'x' }],
  ['PUT', '/v1/rollouts/r/pins/p', ['admin'], { path: 'new' }],
  ['DELETE', '/v1/rollouts/r/pins/p', ['admin']],
  ['GET', '/v1/audit', ['admin', 'read']],
  ['POST', '/v1/keys', ['admin'], { kind: 'read', name: 'x' }],
  ['GET', '/v1/keys', ['admin']],
  ['POST', '/v1/keys/key_x/revoke', ['admin']],
  ['POST', '/v1/keys/key_x/restore', ['admin']],
  ['POST', '/v1/keys/prune', ['admin']],
  ['GET', '/v1/sdk/config', ['admin', 'read', 'sdk']],
];

describe('kinds of key on kinds of route', () => {
  for (const [method, path, allowed, body] of routes) {
    it(`${method} ${path}: ${allowed.join(', ')} only`, async () => {
      for (const kind of ['admin', 'read', 'sdk'] as const) {
        const reply = await t.call(method, path, { key: t.keys[kind], body });
        if (allowed.includes(kind)) {
          expect([401, 403], `${kind} ${reply.text}`).not.toContain(reply.status);
        } else {
          expect(reply.status, kind).toBe(403);
          expect(reply.body.error.code).toBe('forbidden');
          expect(reply.body.error.message).toMatch(/^(an admin|a read|an SDK) key may not /);
        }
      }
      for (const key of [null, 'rc_admin_not-a-real-key-at-all-000000000000', 'x']) {
        const reply = await t.call(method, path, { key, body });
        expect(reply.status).toBe(401);
        expect(reply.body.error.code).toBe('unauthorized');
      }
    });
  }

  it('answers /healthz without a key', async () => {
    const reply = await t.call('GET', '/healthz', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok' });
  });

  it('accepts the scheme in any case but nothing other than Bearer', async () => {
    expect((await t.call('GET', '/v1/rollouts', { key: null, headers: { authorization: `bearer ${t.keys.read}` } })).status).toBe(200);
    expect((await t.call('GET', '/v1/rollouts', { key: null, headers: { authorization: `Basic ${t.keys.read}` } })).status).toBe(401);
  });
});

describe('creating keys', () => {
  it('returns the key once, in the rc_<kind>_ format with a checksum, and stores only its hash', async () => {
    const reply = await t.call('POST', '/v1/keys', { body: { kind: 'sdk', name: 'billing worker' } });
    expect(reply.status).toBe(201);
    const { key, id, prefix } = reply.body;
    expect(key).toMatch(/^rc_sdk_[0-9A-Za-z]{38}$/);
    expect(isWellFormedKey(key)).toBe(true);
    expect(isWellFormedKey(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'))).toBe(false);
    expect(prefix).toBe(`${key.slice(0, 13)}…`);
    const dump = JSON.stringify(await t.dump());
    expect(dump).not.toContain(key);
    expect(dump).toContain(hashKey(key));
    const listed = (await t.call('GET', '/v1/keys')).body.items.find((k: any) => k.id === id);
    expect(listed).toMatchObject({ kind: 'sdk', name: 'billing worker', status: 'active', prefix });
    expect(JSON.stringify(listed)).not.toContain(key);
    expect((await t.call('GET', '/v1/sdk/config', { key })).status).toBe(200);
  });
});

describe('revoking and restoring', () => {
  it('a revoked key gets 401 at once; a restored one works again; nothing is deleted', async () => {
    const revoked = await t.call('POST', `/v1/keys/${t.keys.sdkId}/revoke`, { body: { reason: 'leaked' } });
    expect(revoked.body).toMatchObject({ status: 'revoked', revokedBy: t.keys.adminId });
    expect((await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).status).toBe(401);
    expect((await t.call('POST', `/v1/keys/${t.keys.sdkId}/revoke`)).body.error.code).toBe('key_already_revoked');
    const restored = await t.call('POST', `/v1/keys/${t.keys.sdkId}/restore`);
    expect(restored.body.status).toBe('active');
    expect((await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).status).toBe(200);
    expect((await t.call('POST', `/v1/keys/${t.keys.sdkId}/restore`)).body.error.code).toBe('key_not_revoked');
    const audit = (await t.call('GET', '/v1/audit')).body.items.filter((e: any) => e.subject === t.keys.sdkId).map((e: any) => e.action);
    expect(audit).toEqual(['key.restored', 'key.revoked', 'key.created']);
    expect((await t.call('POST', '/v1/keys/key_nope/revoke')).status).toBe(404);
  });

  it('refuses to revoke the last active admin key', async () => {
    const reply = await t.call('POST', `/v1/keys/${t.keys.adminId}/revoke`);
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('last_admin_key');
  });
});

describe('last use', () => {
  it('is recorded without a write per request, and shows after a flush', async () => {
    t.clock.advance(10 * 60_000);
    const before = await t.dump();
    for (let i = 0; i < 5; i++) await t.call('GET', '/v1/rollouts', { key: t.keys.read });
    expect(await t.dump()).toEqual(before);
    await t.rollcall.services.keys.flushUsage();
    const row = (await t.dump()).api_keys!.find((k: any) => k.id === t.keys.readId) as any;
    expect(row.last_used_at).toBe(t.clock.now());
  });
});

describe('pruning', () => {
  it('lists keys unused for 90 days as a dry run, and revokes them only with apply', async () => {
    const old = await t.call('POST', '/v1/keys', { body: { kind: 'read', name: 'old' } });
    t.clock.advance(95 * DAY);
    const fresh = await t.call('POST', '/v1/keys', { body: { kind: 'read', name: 'fresh' } });
    await t.call('GET', '/v1/rollouts', { key: t.keys.read });
    const before = await t.dump();
    const dry = await t.call('POST', '/v1/keys/prune');
    expect(dry.status).toBe(200);
    expect(dry.body.apply).toBe(false);
    expect(dry.body.keys.map((k: any) => k.id).sort()).toEqual([old.body.id, t.keys.sdkId].sort());
    expect(dry.body.revoked).toEqual([]);
    const after = await t.dump();
    // the dry run wrote nothing but the flushed last use of the keys that made requests
    const strip = (d: any) => ({ ...d, api_keys: d.api_keys.map((k: any) => ({ ...k, last_used_at: null })) });
    expect(strip(after)).toEqual(strip(before));

    const applied = await t.call('POST', '/v1/keys/prune', { body: { apply: true } });
    expect(applied.body.revoked.sort()).toEqual([old.body.id, t.keys.sdkId].sort());
    expect((await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).status).toBe(401);
    expect((await t.call('GET', '/v1/sdk/config', { key: fresh.body.key })).status).toBe(200);
    expect((await t.call('GET', '/v1/rollouts', { key: t.keys.read })).status).toBe(200);
  });

  it('never prunes a key used in the last 30 days and revokes at most 100 per call', async () => {
    expect((await t.call('POST', '/v1/keys/prune', { body: { unusedDays: 10 } })).status).toBe(400);
    for (let i = 0; i < 103; i++) await t.rollcall.services.keys.create({ kind: 'sdk', name: `k${i}` }, 'test');
    t.clock.advance(31 * DAY);
    await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk });
    const first = await t.call('POST', '/v1/keys/prune', { body: { apply: true, unusedDays: 30 } });
    expect(first.body.revoked).toHaveLength(100);
    const second = await t.call('POST', '/v1/keys/prune', { body: { apply: true, unusedDays: 30 } });
    expect(second.body.revoked).toHaveLength(4); // 3 more and the read key
    expect(second.body.revoked).not.toContain(t.keys.sdkId);
  });
});

describe('the bootstrap admin key', () => {
  it('is generated once when no admin key exists, and ROLLCALL_ADMIN_KEY is stored hashed once', async () => {
    const { url } = tempDatabaseUrl();
    const database = await openDatabase({ url });
    const app = createApp({ database, clock: manualClock(), logger: silentLogger });
    const first = await app.services.keys.bootstrap(undefined);
    expect(first.generated).toMatch(/^rc_admin_/);
    expect((await app.services.keys.bootstrap(undefined)).generated).toBeNull();
    const reply = await app.app.request('/v1/keys', { headers: { authorization: `Bearer ${first.generated}` } });
    expect(reply.status).toBe(200);
    const fromEnv = 'an-operator-chosen-admin-key-of-32-chars-or-more';
    await app.services.keys.bootstrap(fromEnv);
    await app.services.keys.bootstrap(fromEnv);
    const keys = (await app.services.keys.list({ limit: 10 })).items;
    expect(keys.filter((k) => k.name === 'ROLLCALL_ADMIN_KEY')).toHaveLength(1);
    expect((await app.app.request('/v1/keys', { headers: { authorization: `Bearer ${fromEnv}` } })).status).toBe(200);
    database.close();
  });
});
