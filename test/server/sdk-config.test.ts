import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileRollout, positionOf, resolvePath, type ConfigSnapshot } from '@rollcall/protocol';
import { createApp } from '../../server/app.ts';
import { silentLogger } from '../../server/logger.ts';
import { createRollout, createTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const config = (headers?: Record<string, string>) => t.call<ConfigSnapshot>('GET', '/v1/sdk/config', { key: t.keys.sdk, headers });

describe('GET /v1/sdk/config', () => {
  it('holds everything an SDK needs to route every partner locally', async () => {
    await createRollout(t, 'psa-webhooks-v2', { salt: 's1', plan: [{ live: 0, shadow: 10 }, { live: 5, shadow: 30, verify: 0.1 }, { live: 25 }] });
    await createRollout(t, 'draft-one');
    await t.call('POST', '/v1/rollouts/psa-webhooks-v2/start');
    await t.call('POST', '/v1/rollouts/psa-webhooks-v2/advance');
    await t.call('PUT', '/v1/rollouts/psa-webhooks-v2/pins/vip', { body: { path: 'old' } });
    const reply = await config();
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('application/json');
    const psa = reply.body.rollouts.find((r) => r.key === 'psa-webhooks-v2')!;
    expect(psa).toEqual({
      key: 'psa-webhooks-v2',
      salt: 's1',
      state: 'running',
      reason: null,
      version: 4,
      step: 1,
      live: 500,
      shadow: 3000,
      verify: 0.1,
      cohorts: [{ name: 'c1', from: 0, to: 500, status: 'active', reason: null }],
      pins: [{ partnerId: 'vip', path: 'old' }],
    });
    expect(reply.body.rollouts.find((r) => r.key === 'draft-one')).toMatchObject({ state: 'draft', step: null, live: 0, cohorts: [] });
    expect(reply.body.version).toBe(5);

    const compiled = compileRollout(psa);
    const partner = Array.from({ length: 1000 }, (_, i) => `p${i}`).find((p) => positionOf('s1', p) < 500)!;
    expect(resolvePath(compiled, partner)).toBe('new');
    expect(resolvePath(compiled, 'vip')).toBe('old');
  });

  it('answers 304 to a matching If-None-Match and a new ETag after any change', async () => {
    await createRollout(t, 'r');
    const first = await config();
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await config({ 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect((await config({ 'if-none-match': `"other", ${etag}` })).status).toBe(304);
    expect((await config({ 'if-none-match': '"other"' })).status).toBe(200);

    await t.call('PUT', '/v1/rollouts/r/pins/p', { body: { path: 'new' } });
    const changed = await config({ 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.body.rollouts[0]!.pins).toEqual([{ partnerId: 'p', path: 'new' }]);
  });

  it('sees changes made by another server on the same database', async () => {
    await createRollout(t, 'r');
    const etag = (await config()).headers.get('etag')!;
    const other = createApp({ database: t.database, clock: t.clock, logger: silentLogger });
    await other.services.rollouts.transition('r', { action: 'start' }, { actor: 'other-server' });
    const reply = await config({ 'if-none-match': etag });
    expect(reply.status).toBe(200);
    expect(reply.body.rollouts[0]!.state).toBe('running');
  });
});
