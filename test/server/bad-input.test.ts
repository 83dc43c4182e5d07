import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await createRollout(t, 'r');
  await t.call('POST', '/v1/rollouts/r/start');
  await t.call('POST', '/v1/rollouts/r/advance');
  await t.call('PUT', '/v1/rollouts/r/pins/p1', { body: { path: 'new' } });
  callbackId = (await t.call('POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com/a' } })).body.id;
  await t.call('POST', `/v1/callbacks/${callbackId}/disable`);
});
let callbackId = '';
afterAll(async () => {
  await t.close();
});

const step = { live: 5 };
const good = { key: 'fresh', plan: [step] };
const huge = 'x'.repeat(1024 * 1024 + 10);

type Case = [label: string, method: string, path: string, input: { body?: unknown; raw?: string; headers?: Record<string, string> }, status: number, code: string];

const cases: Case[] = [
  // POST /v1/rollouts
  ['create: wrong type for key', 'POST', '/v1/rollouts', { body: { ...good, key: 42 } }, 400, 'invalid_body'],
  ['create: key with capitals', 'POST', '/v1/rollouts', { body: { ...good, key: 'Bad-Key' } }, 400, 'invalid_body'],
  ['create: key of 65 characters', 'POST', '/v1/rollouts', { body: { ...good, key: 'a'.repeat(65) } }, 400, 'invalid_body'],
  ['create: missing plan', 'POST', '/v1/rollouts', { body: { key: 'fresh' } }, 400, 'invalid_body'],
  ['create: empty plan', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [] } }, 400, 'invalid_body'],
  ['create: unknown field', 'POST', '/v1/rollouts', { body: { ...good, owner: 'me' } }, 400, 'invalid_body'],
  ['create: unknown step field', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 5, canary: true }] } }, 400, 'invalid_body'],
  ['create: live over 100', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 101 }] } }, 400, 'invalid_body'],
  ['create: negative live', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: -1 }] } }, 400, 'invalid_body'],
  ['create: live finer than a basis point', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 0.001 }] } }, 400, 'invalid_body'],
  ['create: shadow over 100', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 0, shadow: 200 }] } }, 400, 'invalid_body'],
  ['create: shadow below live', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 20, shadow: 10 }] } }, 400, 'invalid_body'],
  ['create: verify over 1', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 5, verify: 2 }] } }, 400, 'invalid_body'],
  ['create: decreasing live', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 50 }, { live: 10 }] } }, 400, 'invalid_body'],
  ['create: live as a string', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: '5' }] } }, 400, 'invalid_body'],
  ['create: fractional bakeSeconds', 'POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 5, bakeSeconds: 1.5 }] } }, 400, 'invalid_body'],
  ['create: huge number', 'POST', '/v1/rollouts', { raw: '{"key":"fresh","plan":[{"live":1e400}]}', headers: { 'content-type': 'application/json' } }, 400, 'invalid_body'],
  ['create: bad guard', 'POST', '/v1/rollouts', { body: { ...good, guards: { maxLossRate: 2 } } }, 400, 'invalid_body'],
  ['create: unknown guard', 'POST', '/v1/rollouts', { body: { ...good, guards: { maxLatency: 2 } } }, 400, 'invalid_body'],
  ['create: grace not shorter than window', 'POST', '/v1/rollouts', { body: { ...good, guards: { graceSeconds: 700 } } }, 400, 'invalid_guards'],
  ['create: bad onBreach', 'POST', '/v1/rollouts', { body: { ...good, onBreach: 'explode' } }, 400, 'invalid_body'],
  ['create: autoAdvance as a string', 'POST', '/v1/rollouts', { body: { ...good, autoAdvance: 'yes' } }, 400, 'invalid_body'],
  ['create: body is an array', 'POST', '/v1/rollouts', { body: [good] }, 400, 'invalid_body'],
  ['create: body is null', 'POST', '/v1/rollouts', { raw: 'null', headers: { 'content-type': 'application/json' } }, 400, 'invalid_body'],
  ['create: no body', 'POST', '/v1/rollouts', {}, 400, 'invalid_body'],
  ['create: malformed JSON', 'POST', '/v1/rollouts', { raw: '{"key": "fresh", "plan": [', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
  ['create: form encoded', 'POST', '/v1/rollouts', { raw: 'key=fresh', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
  ['create: oversized body', 'POST', '/v1/rollouts', { raw: `{"key":"fresh","description":"${huge}"}`, headers: { 'content-type': 'application/json' } }, 413, 'payload_too_large'],
  ['create: __proto__ key', 'POST', '/v1/rollouts', { raw: '{"key":"fresh","plan":[{"live":5}],"__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } }, 400, 'invalid_body'],
  ['create: existing key', 'POST', '/v1/rollouts', { body: { key: 'r', plan: [step] } }, 409, 'rollout_exists'],
  // PATCH
  ['patch: nothing to change', 'PATCH', '/v1/rollouts/r', { body: {} }, 400, 'invalid_body'],
  ['patch: only a reason', 'PATCH', '/v1/rollouts/r', { body: { reason: 'because' } }, 400, 'invalid_body'],
  ['patch: unknown field', 'PATCH', '/v1/rollouts/r', { body: { state: 'completed' } }, 400, 'invalid_body'],
  ['patch: version field', 'PATCH', '/v1/rollouts/r', { body: { version: 99 } }, 400, 'invalid_body'],
  ['patch: decreasing plan', 'PATCH', '/v1/rollouts/r', { body: { plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 1 }] } }, 400, 'invalid_body'],
  ['patch: entered step changed', 'PATCH', '/v1/rollouts/r', { body: { plan: [{ live: 0 }, { live: 5 }, { live: 10 }] } }, 409, 'plan_step_locked'],
  ['patch: salt after start', 'PATCH', '/v1/rollouts/r', { body: { salt: 'new' } }, 409, 'salt_locked'],
  ['patch: description too long', 'PATCH', '/v1/rollouts/r', { body: { description: 'x'.repeat(2001) } }, 400, 'invalid_body'],
  ['patch: malformed JSON', 'PATCH', '/v1/rollouts/r', { raw: '{description:', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
  ['patch: unknown rollout', 'PATCH', '/v1/rollouts/nope', { body: { description: 'x' } }, 404, 'not_found'],
  // lifecycle
  ['start: already running', 'POST', '/v1/rollouts/r/start', {}, 409, 'transition_not_allowed'],
  ['start: unknown field', 'POST', '/v1/rollouts/r/start', { body: { force: true } }, 400, 'invalid_body'],
  ['advance: reason not a string', 'POST', '/v1/rollouts/r/advance', { body: { reason: 7 } }, 400, 'invalid_body'],
  ['advance: empty reason', 'POST', '/v1/rollouts/r/advance', { body: { reason: '   ' } }, 400, 'invalid_body'],
  ['advance: stale If-Match', 'POST', '/v1/rollouts/r/advance', { headers: { 'if-match': '"1"' } }, 409, 'version_mismatch'],
  ['pause: malformed JSON', 'POST', '/v1/rollouts/r/pause', { raw: '{', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
  ['resume: not paused', 'POST', '/v1/rollouts/r/resume', {}, 409, 'transition_not_allowed'],
  ['resume: cohorts not an array', 'POST', '/v1/rollouts/r/resume', { body: { cohorts: 'c1' } }, 400, 'invalid_body'],
  ['complete: unknown rollout', 'POST', '/v1/rollouts/nope/complete', {}, 404, 'not_found'],
  ['revert: no reason', 'POST', '/v1/rollouts/r/revert', { body: { cohort: 'c1' } }, 400, 'invalid_body'],
  ['revert: no body', 'POST', '/v1/rollouts/r/revert', {}, 400, 'invalid_body'],
  ['revert: bad cohort name', 'POST', '/v1/rollouts/r/revert', { body: { cohort: 'baseline', reason: 'x' } }, 400, 'invalid_body'],
  ['revert: unknown cohort', 'POST', '/v1/rollouts/r/revert', { body: { cohort: 'c9', reason: 'x' } }, 404, 'not_found'],
  ['revert: reason too long', 'POST', '/v1/rollouts/r/revert', { body: { reason: 'x'.repeat(1001) } }, 400, 'invalid_body'],
  // pins
  ['pin: bad path', 'PUT', '/v1/rollouts/r/pins/p2', { body: { path: 'sideways' } }, 400, 'invalid_body'],
  ['pin: missing path', 'PUT', '/v1/rollouts/r/pins/p2', { body: {} }, 400, 'invalid_body'],
  ['pin: partner id too long', 'PUT', `/v1/rollouts/r/pins/${'p'.repeat(300)}`, { body: { path: 'new' } }, 400, 'invalid_params'],
  ['pin: unknown rollout', 'PUT', '/v1/rollouts/nope/pins/p2', { body: { path: 'new' } }, 404, 'not_found'],
  ['unpin: not pinned', 'DELETE', '/v1/rollouts/r/pins/p2', {}, 404, 'not_found'],
  ['unpin: unknown field', 'DELETE', '/v1/rollouts/r/pins/p1', { body: { all: true } }, 400, 'invalid_body'],
  // keys
  ['key: bad kind', 'POST', '/v1/keys', { body: { kind: 'root', name: 'x' } }, 400, 'invalid_body'],
  ['key: missing name', 'POST', '/v1/keys', { body: { kind: 'sdk' } }, 400, 'invalid_body'],
  ['key: blank name', 'POST', '/v1/keys', { body: { kind: 'sdk', name: '  ' } }, 400, 'invalid_body'],
  ['key: unknown field', 'POST', '/v1/keys', { body: { kind: 'sdk', name: 'x', key: 'rc_sdk_mine' } }, 400, 'invalid_body'],
  ['key: malformed JSON', 'POST', '/v1/keys', { raw: '[', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
  ['revoke: unknown key', 'POST', '/v1/keys/key_nope/revoke', {}, 404, 'not_found'],
  ['revoke: reason wrong type', 'POST', '/v1/keys/key_nope/revoke', { body: { reason: [] } }, 400, 'invalid_body'],
  ['restore: active key', 'POST', '/v1/keys/KEY_SDK/restore', {}, 409, 'key_not_revoked'],
  ['prune: apply as a string', 'POST', '/v1/keys/prune', { body: { apply: 'true' } }, 400, 'invalid_body'],
  ['prune: fewer than 30 days', 'POST', '/v1/keys/prune', { body: { apply: true, unusedDays: 29 } }, 400, 'invalid_body'],
  ['prune: unknown field', 'POST', '/v1/keys/prune', { body: { apply: true, all: true } }, 400, 'invalid_body'],
  // callbacks
  ['callback: no url', 'POST', '/v1/callbacks', { body: {} }, 400, 'invalid_body'],
  ['callback: url not a string', 'POST', '/v1/callbacks', { body: { url: ['https://a.example'] } }, 400, 'invalid_body'],
  ['callback: javascript url', 'POST', '/v1/callbacks', { body: { url: 'javascript:alert(1)' } }, 400, 'invalid_body'],
  ['callback: file url', 'POST', '/v1/callbacks', { body: { url: 'file:///etc/passwd' } }, 400, 'invalid_body'],
  ['callback: credentials in url', 'POST', '/v1/callbacks', { body: { url: 'https://a:b@hooks.example.com' } }, 400, 'invalid_body'],
  ['callback: metadata address', 'POST', '/v1/callbacks', { body: { url: 'http://169.254.169.254/' } }, 400, 'callback_address_refused'],
  ['callback: mapped metadata address', 'POST', '/v1/callbacks', { body: { url: 'http://[::ffff:169.254.169.254]/' } }, 400, 'callback_address_refused'],
  ['callback: loopback not allowed', 'POST', '/v1/callbacks', { body: { url: 'http://127.0.0.1:8787/' } }, 400, 'callback_address_refused'],
  ['callback: unknown event', 'POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com', events: ['*'] } }, 400, 'invalid_body'],
  ['callback: empty events', 'POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com', events: [] } }, 400, 'invalid_body'],
  ['callback: unknown field', 'POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com', secret: 'whsec_mine' } }, 400, 'invalid_body'],
  ['callback: bad id', 'GET', '/v1/callbacks/1%20OR%201=1', {}, 400, 'invalid_params'],
  ['callback: unknown id', 'DELETE', '/v1/callbacks/cb_nope', {}, 404, 'not_found'],
  ['callback: rotate with a body', 'POST', '/v1/callbacks/cb_nope/rotate-secret', { body: { secret: 'x' } }, 400, 'invalid_body'],
  ['callback: bad status filter', 'GET', '/v1/callbacks?status=gone', {}, 400, 'invalid_query'],
  ['callback: deliveries limit too big', 'GET', '/v1/callbacks/cb_nope/deliveries?limit=100000', {}, 400, 'invalid_query'],
  ['callback: deliveries bad cursor', 'GET', '/v1/callbacks/CALLBACK/deliveries?before=yesterday', {}, 400, 'invalid_cursor'],
  ['callback: recover without since', 'POST', '/v1/callbacks/CALLBACK/recover', { body: {} }, 400, 'invalid_body'],
  ['callback: recover since not a time', 'POST', '/v1/callbacks/CALLBACK/recover', { body: { since: 'last tuesday' } }, 400, 'invalid_body'],
  ['callback: recover a disabled one', 'POST', '/v1/callbacks/CALLBACK/recover', { body: { since: 0 } }, 409, 'callback_not_enabled'],
  ['delivery: bad id', 'POST', '/v1/deliveries/nope/retry', {}, 400, 'invalid_params'],
  ['delivery: unknown id', 'POST', '/v1/deliveries/dlv_nope/retry', {}, 404, 'not_found'],
  // queries and routes
  ['list: limit zero', 'GET', '/v1/rollouts?limit=0', {}, 400, 'invalid_query'],
  ['list: limit not a number', 'GET', '/v1/rollouts?limit=ten', {}, 400, 'invalid_query'],
  ['list: unknown parameter', 'GET', '/v1/rollouts?sort=desc', {}, 400, 'invalid_query'],
  ['list: repeated parameter', 'GET', '/v1/rollouts?limit=1&limit=2', {}, 400, 'invalid_query'],
  ['audit: cursor not a number', 'GET', '/v1/audit?before=abc', {}, 400, 'invalid_query'],
  ['unknown route', 'POST', '/v1/rollouts/r/explode', {}, 404, 'not_found'],
  ['unknown method', 'DELETE', '/v1/rollouts/r', {}, 404, 'not_found'],
];

describe('bad input changes nothing and gets a clear 4xx', () => {
  for (const [label, method, path, input, status, code] of cases) {
    it(label, async () => {
      const before = await t.dump();
      const reply = await t.call(method, path.replace('KEY_SDK', t.keys.sdkId).replace('CALLBACK', callbackId), input);
      expect(reply.status, reply.text.slice(0, 300)).toBe(status);
      expect(reply.body.error.code).toBe(code);
      expect(typeof reply.body.error.message).toBe('string');
      expect(Object.keys(reply.body)).toEqual(['error']);
      expect(await t.dump()).toEqual(before);
    });
  }

  it('names the failing fields in details', async () => {
    const reply = await t.call('POST', '/v1/rollouts', { body: { key: 'fresh', plan: [{ live: 50 }, { live: 10 }] } });
    expect(reply.body.error.details.issues).toContainEqual(expect.objectContaining({ path: 'plan.1.live' }));
  });
});
