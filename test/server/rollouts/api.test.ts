import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, PLAN, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const post = (path: string, body?: unknown, headers?: Record<string, string>) => t.call('POST', path, { body, headers });

describe('creating and reading rollouts', () => {
  it('creates a draft with defaults, an ETag and a Location', async () => {
    const reply = await createRollout(t, 'psa-webhooks-v2', { description: 'webhook handler v2' });
    expect(reply.headers.get('etag')).toBe('"1"');
    expect(reply.headers.get('location')).toBe('/v1/rollouts/psa-webhooks-v2');
    expect(reply.body).toMatchObject({
      key: 'psa-webhooks-v2',
      description: 'webhook handler v2',
      salt: 'psa-webhooks-v2',
      state: 'draft',
      step: null,
      version: 1,
      plan: PLAN,
      onBreach: 'revert-cohort',
      autoAdvance: false,
      guards: { graceSeconds: 30, windowSeconds: 600, minSample: 100, maxLossRate: 0.001, maxFailureRateDelta: 0.01, maxMismatchRate: 0.01, reporterTimeoutSeconds: 60 },
      cohorts: [],
      pins: [],
    });
  });

  it('keeps the salt, guards and breach policy it is given', async () => {
    const reply = await createRollout(t, 'queue-consumer', { salt: 'shared-salt', guards: { graceSeconds: 5, minSample: 10 }, onBreach: 'pause', autoAdvance: true });
    expect(reply.body).toMatchObject({ salt: 'shared-salt', onBreach: 'pause', autoAdvance: true, guards: { graceSeconds: 5, minSample: 10, windowSeconds: 600 } });
  });

  it('refuses a second rollout with the same key', async () => {
    await createRollout(t, 'dup');
    const reply = await post('/v1/rollouts', { key: 'dup', plan: PLAN });
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('rollout_exists');
  });

  it('lists rollouts in key order, a page at a time', async () => {
    for (const key of ['c-three', 'a-one', 'b-two']) await createRollout(t, key);
    const first = await t.call('GET', '/v1/rollouts?limit=2');
    expect(first.body.items.map((r: any) => r.key)).toEqual(['a-one', 'b-two']);
    expect(first.body.nextCursor).toBe('b-two');
    const second = await t.call('GET', `/v1/rollouts?limit=2&after=${first.body.nextCursor}`);
    expect(second.body.items.map((r: any) => r.key)).toEqual(['c-three']);
    expect(second.body.nextCursor).toBeNull();
  });

  it('answers 404 in the error shape for an unknown rollout', async () => {
    const reply = await t.call('GET', '/v1/rollouts/nope');
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: { code: 'not_found', message: 'rollout "nope" does not exist' } });
  });
});

describe('the lifecycle over the API', () => {
  it('walks start, advance, pause, resume, revert, complete with cohorts as bands', async () => {
    await createRollout(t, 'r');
    let reply = await post('/v1/rollouts/r/start', { reason: 'shadow first' });
    expect(reply.body).toMatchObject({ state: 'running', step: 0, live: 0, shadow: 10, version: 2, cohorts: [], stateReason: 'shadow first' });
    reply = await post('/v1/rollouts/r/advance');
    // The reason shown is the latest action's: an advance without one does not keep the start's.
    expect(reply.body).toMatchObject({ state: 'running', step: 1, live: 5, version: 3, stateReason: null });
    expect(reply.body.cohorts).toMatchObject([{ name: 'c1', from: 0, to: 500, status: 'active', step: 1 }]);
    reply = await post('/v1/rollouts/r/advance');
    expect(reply.body.cohorts.map((c: any) => [c.name, c.from, c.to])).toEqual([['c1', 0, 500], ['c2', 500, 2500]]);
    reply = await post('/v1/rollouts/r/pause', { reason: 'weekend' });
    expect(reply.body.state).toBe('paused');
    reply = await post('/v1/rollouts/r/resume');
    expect(reply.body.state).toBe('running');
    reply = await post('/v1/rollouts/r/revert', { cohort: 'c2', reason: 'latency' });
    expect(reply.body.state).toBe('paused');
    expect(reply.body.cohorts[1]).toMatchObject({ name: 'c2', status: 'reverted', revertKind: 'manual', revertReason: 'latency', revertedBy: t.keys.adminId });
    expect(reply.body.cohorts[0].status).toBe('active');
    reply = await post('/v1/rollouts/r/resume', { cohorts: ['c2'] });
    expect(reply.body.cohorts[1].status).toBe('active');
    reply = await post('/v1/rollouts/r/complete');
    expect(reply.body).toMatchObject({ state: 'completed', live: 100 });
    reply = await post('/v1/rollouts/r/revert', { reason: 'kill switch' });
    expect(reply.body.state).toBe('reverted');
    expect(reply.body.cohorts.every((c: any) => c.status === 'reverted')).toBe(true);
  });

  it('brings a hand-reverted cohort of a running rollout back in one call, audited', async () => {
    await createRollout(t, 'r');
    await post('/v1/rollouts/r/start');
    await post('/v1/rollouts/r/advance');
    await post('/v1/rollouts/r/advance');
    await post('/v1/rollouts/r/revert', { cohort: 'c2', reason: 'latency' });
    let reply = await post('/v1/rollouts/r/resume', { reason: 'c1 is fine' });
    expect(reply.body).toMatchObject({ state: 'running', cohorts: [{ name: 'c1', status: 'active' }, { name: 'c2', status: 'reverted' }] });
    reply = await post('/v1/rollouts/r/resume', { cohorts: ['c2'], reason: 'latency fixed' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ state: 'running', cohorts: [{ name: 'c1', status: 'active' }, { name: 'c2', status: 'active' }] });
    const audit = await t.call('GET', '/v1/audit?rollout=r');
    expect(audit.body.items[0]).toMatchObject({ action: 'rollout.resumed', reason: 'latency fixed' });
    // Naming a cohort that is active is refused and changes nothing.
    const refused = await post('/v1/rollouts/r/resume', { cohorts: ['c1'] });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('cohort_not_reverted');
    expect((await t.call('GET', '/v1/rollouts/r')).body.version).toBe(reply.body.version);
  });

  it('refuses transitions that are not allowed with 409 and changes nothing', async () => {
    await createRollout(t, 'r');
    const before = await t.dump();
    for (const action of ['advance', 'pause', 'resume', 'complete']) {
      const reply = await post(`/v1/rollouts/r/${action}`);
      expect(reply.status, action).toBe(409);
      expect(reply.body.error.code).toBe('transition_not_allowed');
    }
    expect((await post('/v1/rollouts/r/revert', { reason: 'x' })).status).toBe(409);
    expect(await t.dump()).toEqual(before);
  });

  it('refuses to advance past the last step', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10 }] });
    await post('/v1/rollouts/r/start');
    const reply = await post('/v1/rollouts/r/advance');
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('no_next_step');
  });

  it('reverting an unknown cohort is a 404; a reverted one a 409', async () => {
    await createRollout(t, 'r');
    await post('/v1/rollouts/r/start');
    await post('/v1/rollouts/r/advance');
    expect((await post('/v1/rollouts/r/revert', { cohort: 'c7', reason: 'x' })).status).toBe(404);
    expect((await post('/v1/rollouts/r/revert', { cohort: 'c1', reason: 'x' })).status).toBe(200);
    expect((await post('/v1/rollouts/r/revert', { cohort: 'c1', reason: 'x' })).body.error.code).toBe('cohort_already_reverted');
  });
});

describe('If-Match', () => {
  it('applies a change at the named version and refuses a stale one with 409', async () => {
    await createRollout(t, 'r');
    const ok = await post('/v1/rollouts/r/start', undefined, { 'if-match': '"1"' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"2"');
    const before = await t.dump();
    const stale = await post('/v1/rollouts/r/advance', undefined, { 'if-match': '"1"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'version_mismatch', details: { version: 2 } });
    expect(await t.dump()).toEqual(before);
    expect((await post('/v1/rollouts/r/advance', undefined, { 'if-match': '2' })).status).toBe(200);
    expect((await t.call('PATCH', '/v1/rollouts/r', { body: { description: 'x' }, headers: { 'if-match': 'W/"3"' } })).status).toBe(200);
  });

  it('holds for pins and patches too', async () => {
    await createRollout(t, 'r');
    expect((await t.call('PUT', '/v1/rollouts/r/pins/p1', { body: { path: 'new' }, headers: { 'if-match': '"7"' } })).status).toBe(409);
    expect((await t.call('PATCH', '/v1/rollouts/r', { body: { description: 'x' }, headers: { 'if-match': '"7"' } })).status).toBe(409);
    expect((await t.call('DELETE', '/v1/rollouts/r/pins/p1', { headers: { 'if-match': '"7"' } })).status).toBe(409);
  });

  it('refuses an If-Match that names no version with 400', async () => {
    await createRollout(t, 'r');
    const reply = await post('/v1/rollouts/r/start', undefined, { 'if-match': 'yesterday' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('invalid_if_match');
  });
});

describe('patching', () => {
  it('changes description, guards (merged), breach policy and auto-advance', async () => {
    await createRollout(t, 'r');
    const reply = await t.call('PATCH', '/v1/rollouts/r', {
      body: { description: 'new words', guards: { maxLossRate: 0.01 }, onBreach: 'revert-all', autoAdvance: true, reason: 'tuning' },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ description: 'new words', onBreach: 'revert-all', autoAdvance: true, version: 2 });
    expect(reply.body.guards).toMatchObject({ maxLossRate: 0.01, graceSeconds: 30 });
  });

  it('changes future steps but never steps already entered', async () => {
    await createRollout(t, 'r');
    await post('/v1/rollouts/r/start');
    await post('/v1/rollouts/r/advance');
    const future = [{ live: 0, shadow: 10 }, { live: 5 }, { live: 10, bakeSeconds: 60 }, { live: 50 }, { live: 100 }];
    const ok = await t.call('PATCH', '/v1/rollouts/r', { body: { plan: future } });
    expect(ok.status).toBe(200);
    expect(ok.body.plan).toEqual(future);
    const past = await t.call('PATCH', '/v1/rollouts/r', { body: { plan: [{ live: 0, shadow: 20 }, { live: 5 }, { live: 100 }] } });
    expect(past.status).toBe(409);
    expect(past.body.error).toMatchObject({ code: 'plan_step_locked', details: { step: 0 } });
    const shorter = await t.call('PATCH', '/v1/rollouts/r', { body: { plan: [{ live: 0, shadow: 10 }] } });
    expect(shorter.status).toBe(409);
  });

  it('changes the salt only while a draft', async () => {
    await createRollout(t, 'r');
    expect((await t.call('PATCH', '/v1/rollouts/r', { body: { salt: 'other' } })).body.salt).toBe('other');
    await post('/v1/rollouts/r/start');
    const reply = await t.call('PATCH', '/v1/rollouts/r', { body: { salt: 'again' } });
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('salt_locked');
  });

  it('refuses a window no longer than the grace', async () => {
    await createRollout(t, 'r');
    const reply = await t.call('PATCH', '/v1/rollouts/r', { body: { guards: { graceSeconds: 600 } } });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('invalid_guards');
  });

  it('keeps the reporter timeout at max(60, 2 × grace) until it is set, and refuses one that is not a whole number of seconds', async () => {
    await createRollout(t, 'r', { guards: { graceSeconds: 45 } });
    expect((await t.call('GET', '/v1/rollouts/r')).body.guards.reporterTimeoutSeconds).toBe(90);
    let reply = await t.call('PATCH', '/v1/rollouts/r', { body: { guards: { graceSeconds: 20 } } });
    expect(reply.body.guards.reporterTimeoutSeconds).toBe(60);
    reply = await t.call('PATCH', '/v1/rollouts/r', { body: { guards: { reporterTimeoutSeconds: 15 } } });
    expect(reply.body.guards.reporterTimeoutSeconds).toBe(15);
    reply = await t.call('PATCH', '/v1/rollouts/r', { body: { guards: { graceSeconds: 100 } } });
    expect(reply.body.guards).toMatchObject({ graceSeconds: 100, reporterTimeoutSeconds: 15 });
    for (const bad of [0, 1.5, -3, '60', 8 * 86_400]) {
      const refused = await t.call('PATCH', '/v1/rollouts/r', { body: { guards: { reporterTimeoutSeconds: bad } } });
      expect(refused.status).toBe(400);
    }
    expect((await t.call('GET', '/v1/rollouts/r')).body.guards.reporterTimeoutSeconds).toBe(15);
  });
});

describe('pins', () => {
  it('pins a partner to a path, shows it, bumps the version and removes it', async () => {
    await createRollout(t, 'r');
    const pinned = await t.call('PUT', '/v1/rollouts/r/pins/partner%2F42', { body: { path: 'new', reason: 'beta tester' } });
    expect(pinned.status).toBe(200);
    expect(pinned.body.version).toBe(2);
    expect(pinned.body.pins).toMatchObject([{ partnerId: 'partner/42', path: 'new', createdBy: t.keys.adminId }]);
    const moved = await t.call('PUT', '/v1/rollouts/r/pins/partner%2F42', { body: { path: 'shadow' } });
    expect(moved.body.pins).toMatchObject([{ partnerId: 'partner/42', path: 'shadow' }]);
    const removed = await t.call('DELETE', '/v1/rollouts/r/pins/partner%2F42');
    expect(removed.body.pins).toEqual([]);
    expect(removed.body.version).toBe(4);
    expect((await t.call('DELETE', '/v1/rollouts/r/pins/partner%2F42')).status).toBe(404);
  });
});

describe('the audit log', () => {
  it('records every change with actor, action, before, after and reason, newest first', async () => {
    await createRollout(t, 'r');
    await createRollout(t, 'other');
    await post('/v1/rollouts/r/start', { reason: 'go' });
    await post('/v1/rollouts/r/advance');
    await post('/v1/rollouts/r/revert', { cohort: 'c1', reason: 'errors up' });
    await t.call('PUT', '/v1/rollouts/r/pins/p1', { body: { path: 'old', reason: 'vip' } });
    const reply = await t.call('GET', '/v1/audit?rollout=r');
    const items = reply.body.items;
    expect(items.map((e: any) => e.action)).toEqual(['pin.set', 'cohort.reverted', 'rollout.advanced', 'rollout.started', 'rollout.created']);
    expect(items.every((e: any) => e.actor === t.keys.adminId && e.rollout === 'r')).toBe(true);
    expect(items[1]).toMatchObject({ subject: 'c1', reason: 'errors up', before: { state: 'running' }, after: { state: 'paused' } });
    expect(items[1].before.cohorts[0].status).toBe('active');
    expect(items[1].after.cohorts[0].status).toBe('reverted');
    expect(items[0]).toMatchObject({ subject: 'p1', before: null, after: { path: 'old' }, reason: 'vip' });
    expect(items[3]).toMatchObject({ reason: 'go', before: { state: 'draft' }, after: { state: 'running', step: 0 } });
  });

  it('pages with a cursor', async () => {
    await createRollout(t, 'r');
    await post('/v1/rollouts/r/start');
    await post('/v1/rollouts/r/pause');
    const first = await t.call('GET', '/v1/audit?rollout=r&limit=2');
    expect(first.body.items).toHaveLength(2);
    const second = await t.call('GET', `/v1/audit?rollout=r&limit=2&before=${first.body.nextCursor}`);
    expect(second.body.items.map((e: any) => e.action)).toEqual(['rollout.created']);
  });
});
