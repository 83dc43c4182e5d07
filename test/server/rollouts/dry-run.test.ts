/**
 * `?dryRun=true` on a create and a patch: the same rules and the same answer
 * as the write, and nothing written — no row, no audit entry, no new version,
 * no change event.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, PLAN, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
let events: unknown[];
beforeEach(async () => {
  t = await createTestApp();
  events = [];
  t.rollcall.services.changes.subscribe((change) => events.push(change));
});
afterEach(async () => {
  await t.close();
});

/** Runs `fn` and expects it to have written nothing and announced nothing. */
async function writesNothing<T>(fn: () => Promise<T>): Promise<T> {
  const before = await t.dump();
  const count = events.length;
  const result = await fn();
  expect(await t.dump()).toEqual(before);
  expect(events.length).toBe(count);
  return result;
}

describe('a create with dryRun=true', () => {
  it('answers the rollout the create would make, and writes nothing', async () => {
    const body = { key: 'checked', plan: PLAN, guards: { graceSeconds: 60 }, compare: { ignore: ['$.at', '$.at'], unorderedArrays: false } };
    const dry = await writesNothing(() => t.call('POST', '/v1/rollouts?dryRun=true', { body }));
    expect(dry.status).toBe(200);
    expect(dry.headers.get('location')).toBeNull();
    expect(dry.headers.get('etag')).toBeNull();
    // The compare rules as stored: duplicates gone, a false unorderedArrays left out.
    expect(dry.body).toMatchObject({ key: 'checked', state: 'draft', version: 1, compare: { ignore: ['$.at'] }, guards: { graceSeconds: 60, reporterTimeoutSeconds: 120 } });
    expect((await t.call('GET', '/v1/rollouts/checked')).status).toBe(404);
    expect((await t.call('GET', '/v1/audit')).body.items.filter((e: { action: string }) => e.action === 'rollout.created')).toEqual([]);

    const created = await t.call('POST', '/v1/rollouts', { body });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(dry.body);
  });

  it('is refused as the create would be, with every refusal listed', async () => {
    await createRollout(t, 'taken');
    const body = { key: 'taken', plan: PLAN, guards: { graceSeconds: 600, windowSeconds: 600 } };
    const dry = await writesNothing(() => t.call('POST', '/v1/rollouts?dryRun=true', { body }));
    const real = await writesNothing(() => t.call('POST', '/v1/rollouts', { body }));
    expect(dry.status).toBe(real.status);
    expect(dry.body.error).toMatchObject({ code: real.body.error.code, message: real.body.error.message });
    expect(dry.body.error.details.refusals).toEqual([
      { field: 'guards', code: 'invalid_guards', message: 'windowSeconds (600) must be longer than graceSeconds (600)' },
      { field: 'key', code: 'rollout_exists', message: 'a rollout with key "taken" already exists' },
    ]);
    const exists = await t.call('POST', '/v1/rollouts?dryRun=true', { body: { key: 'taken', plan: PLAN } });
    expect(exists.status).toBe(409);
    expect(exists.body.error).toMatchObject({ code: 'rollout_exists', details: { refusals: [{ field: 'key', code: 'rollout_exists' }] } });
  });

  it('validates the body with the same schema, and refuses a query it does not know rather than write', async () => {
    const invalid = await writesNothing(() => t.call('POST', '/v1/rollouts?dryRun=true', { body: { key: 'x', plan: [{ live: 50 }, { live: 20 }], extra: 1 } }));
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalid_body');
    const misspelt = await writesNothing(() => t.call('POST', '/v1/rollouts?dryrun=true', { body: { key: 'x', plan: PLAN } }));
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.error.code).toBe('invalid_query');
    expect((await t.call('POST', '/v1/rollouts?dryRun=false', { body: { key: 'x', plan: PLAN } })).status).toBe(201);
  });
});

describe('a patch with dryRun=true', () => {
  it('answers the rollout as the patch would leave it, and writes nothing', async () => {
    await createRollout(t, 'edited');
    const patch = { description: 'checked first', plan: [...PLAN.slice(0, 3), { live: 90 }, { live: 100 }], compare: { unorderedArrays: true }, reason: 'tidy' };
    const dry = await writesNothing(() => t.call('PATCH', '/v1/rollouts/edited?dryRun=true', { body: patch, headers: { 'if-match': '"1"' } }));
    expect(dry.status).toBe(200);
    expect(dry.headers.get('etag')).toBeNull();
    expect(dry.body).toMatchObject({ description: 'checked first', version: 2, compare: { unorderedArrays: true } });
    expect((await t.call('GET', '/v1/rollouts/edited')).body).toMatchObject({ description: '', version: 1 });

    const real = await t.call('PATCH', '/v1/rollouts/edited', { body: patch, headers: { 'if-match': '"1"' } });
    expect(real.status).toBe(200);
    expect(real.body).toEqual(dry.body);
  });

  it('is refused as the patch would be, with every refusal listed, and checks If-Match', async () => {
    await createRollout(t, 'running');
    expect((await t.call('POST', '/v1/rollouts/running/start')).status).toBe(200);
    const patch = { salt: 'another', plan: [{ live: 1 }, { live: 5 }], guards: { windowSeconds: 10, graceSeconds: 20 } };
    const dry = await writesNothing(() => t.call('PATCH', '/v1/rollouts/running?dryRun=true', { body: patch }));
    const real = await writesNothing(() => t.call('PATCH', '/v1/rollouts/running', { body: patch }));
    expect(dry.status).toBe(409);
    expect(dry.body.error).toMatchObject({ code: real.body.error.code, message: real.body.error.message });
    expect(dry.body.error.details.refusals.map((r: { field: string; code: string }) => [r.field, r.code])).toEqual([
      ['salt', 'salt_locked'],
      ['plan', 'plan_step_locked'],
      ['guards', 'invalid_guards'],
    ]);
    expect(dry.body.error.details.refusals[1].details).toEqual({ step: 0 });

    const stale = await writesNothing(() => t.call('PATCH', '/v1/rollouts/running?dryRun=true', { body: { description: 'x' }, headers: { 'if-match': '"1"' } }));
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'version_mismatch', details: { version: 2 } });
    expect((await t.call('PATCH', '/v1/rollouts/nothere?dryRun=true', { body: { description: 'x' } })).status).toBe(404);
  });

  it('is a write: a read key may not send one', async () => {
    await createRollout(t, 'guarded');
    expect((await t.call('PATCH', '/v1/rollouts/guarded?dryRun=true', { key: t.keys.read, body: { description: 'x' } })).status).toBe(403);
  });
});
