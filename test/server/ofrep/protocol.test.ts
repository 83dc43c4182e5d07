/**
 * OFREP's wire shapes and errors through app.request(): what a provider in
 * any language sees. The real JavaScript provider is in provider.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
const partners = Array.from({ length: 3000 }, (_, i) => `partner-${i}`);
const inBand = (lo: number, hi: number) => partners.find((p) => positionOf('hooks', p) >= lo && positionOf('hooks', p) < hi)!;

beforeEach(async () => {
  t = await createTestApp();
  await t.call('POST', '/v1/rollouts', { body: { key: 'hooks', plan: [{ live: 10, shadow: 30 }, { live: 50 }] } });
  await t.call('POST', '/v1/rollouts/hooks/start');
  await t.call('POST', '/v1/rollouts', { body: { key: 'drafty', plan: [{ live: 10 }] } });
});
afterEach(() => t.close());

const evaluate = (key: string, body: unknown, headers: Record<string, string> = {}, sdkKey: string | null = t.keys.sdk) =>
  t.call('POST', `/ofrep/v1/evaluate/flags/${key}`, { key: sdkKey, raw: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

describe('OFREP single evaluation', () => {
  it("answers a rollout as a string flag whose value and variant are the partner's path", async () => {
    const partner = inBand(0, 1000);
    const reply = await evaluate('hooks', { context: { targetingKey: partner, plan: 'gold' } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/application\/json/);
    expect(reply.body).toEqual({ key: 'hooks', value: 'new', variant: 'new', reason: 'SPLIT', metadata: { rollout: 'hooks', cohort: 'c1', version: 2, state: 'running' } });
    expect((await evaluate('hooks', { context: { targetingKey: inBand(1000, 3000) } })).body).toMatchObject({ value: 'shadow', reason: 'SPLIT', metadata: { cohort: 'shadow' } });
    expect((await evaluate('hooks', { context: { targetingKey: inBand(3000, 10_000) } })).body).toMatchObject({ value: 'old', reason: 'SPLIT', metadata: { cohort: 'baseline' } });
    expect((await evaluate('drafty', { context: { targetingKey: partner } })).body).toMatchObject({ value: 'old', reason: 'DISABLED', metadata: { state: 'draft' } });
  });

  it('gives TARGETING_MATCH for a pin, STATIC once completed, DISABLED once reverted', async () => {
    const partner = inBand(5000, 10_000);
    await t.call('PUT', `/v1/rollouts/hooks/pins/${partner}`, { body: { path: 'new' } });
    expect((await evaluate('hooks', { context: { targetingKey: partner } })).body).toMatchObject({ value: 'new', reason: 'TARGETING_MATCH', metadata: { cohort: 'pinned' } });
    await t.call('POST', '/v1/rollouts/hooks/revert', { body: { reason: 'bad' } });
    expect((await evaluate('hooks', { context: { targetingKey: partner } })).body).toMatchObject({ value: 'old', reason: 'DISABLED', metadata: { state: 'reverted' } });
    await t.call('POST', '/v1/rollouts', { body: { key: 'done', plan: [{ live: 10 }] } });
    await t.call('POST', '/v1/rollouts/done/start');
    await t.call('POST', '/v1/rollouts/done/complete');
    expect((await evaluate('done', { context: { targetingKey: partner } })).body).toMatchObject({ value: 'new', reason: 'STATIC', metadata: { state: 'completed' } });
  });

  it('answers the protocol error codes with 400 and 404, and changes nothing', async () => {
    const before = JSON.stringify(await t.dump());
    const cases: [string, unknown, number, string][] = [
      ['hooks', '{"context": {', 400, 'PARSE_ERROR'],
      ['hooks', '', 400, 'INVALID_CONTEXT'],
      ['hooks', [], 400, 'INVALID_CONTEXT'],
      ['hooks', { context: 'partner-1' }, 400, 'INVALID_CONTEXT'],
      ['hooks', { context: { targetingKey: 42 } }, 400, 'INVALID_CONTEXT'],
      ['hooks', {}, 400, 'INVALID_CONTEXT'],
      ['hooks', { context: {} }, 400, 'TARGETING_KEY_MISSING'],
      ['hooks', { context: { targetingKey: '' } }, 400, 'TARGETING_KEY_MISSING'],
      ['nope', { context: { targetingKey: 'p' } }, 404, 'FLAG_NOT_FOUND'],
      ['%E2%9C%93', { context: { targetingKey: 'p' } }, 404, 'FLAG_NOT_FOUND'],
    ];
    for (const [key, body, status, errorCode] of cases) {
      const reply = await evaluate(key, body);
      expect(reply.status, `${key} ${JSON.stringify(body)}`).toBe(status);
      expect(reply.body, `${key} ${JSON.stringify(body)}`).toMatchObject({ key: decodeURIComponent(key), errorCode, errorDetails: expect.any(String) });
    }
    expect(JSON.stringify(await t.dump())).toBe(before);
  });

  it('takes an SDK key as Bearer or X-API-Key; 401 without one, 403 for a read key', async () => {
    const body = { context: { targetingKey: 'p' } };
    expect((await evaluate('hooks', body, { 'x-api-key': t.keys.sdk }, null)).status).toBe(200);
    expect((await evaluate('hooks', body, {}, t.keys.admin)).status).toBe(200);
    expect((await evaluate('hooks', body, {}, null)).status).toBe(401);
    expect((await evaluate('hooks', body, { 'x-api-key': 'rc_sdk_wrongwrongwrongwrongwrongwrong00' }, null)).body.error.code).toBe('unauthorized');
    const read = await evaluate('hooks', body, {}, t.keys.read);
    expect(read.status).toBe(403);
    expect(read.body.error.code).toBe('forbidden');
  });
});

describe('OFREP from the snapshot in memory', () => {
  it('reads no snapshot from the database per evaluation, and sees a change committed here at once', async () => {
    const partner = inBand(1000, 3000);
    expect((await evaluate('hooks', { context: { targetingKey: partner } })).body.value).toBe('shadow');
    const loads = vi.spyOn(t.rollcall.services.snapshots, 'current');
    for (let i = 0; i < 50; i++) expect((await evaluate('hooks', { context: { targetingKey: partners[i] } })).status).toBe(200);
    expect(loads).not.toHaveBeenCalled();
    await t.call('POST', '/v1/rollouts/hooks/advance');
    expect((await evaluate('hooks', { context: { targetingKey: partner } })).body).toMatchObject({ value: 'new', metadata: { cohort: 'c2', version: 3 } });
    expect(loads.mock.calls.length).toBeGreaterThan(0);
  });
});

describe('OFREP bulk evaluation', () => {
  it('evaluates every rollout for the partner, with an ETag that gives 304 until its answer changes', async () => {
    const partner = inBand(1000, 3000);
    const bulk = (headers: Record<string, string> = {}) =>
      t.call('POST', '/ofrep/v1/evaluate/flags', { key: t.keys.sdk, body: { context: { targetingKey: partner } }, headers });
    const first = await bulk();
    expect(first.status).toBe(200);
    expect(first.body.flags).toHaveLength(2);
    expect(first.body.flags).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'hooks', value: 'shadow', reason: 'SPLIT' }),
        expect.objectContaining({ key: 'drafty', value: 'old', reason: 'DISABLED' }),
      ]),
    );
    expect(first.body.eventStreams).toEqual([{ type: 'sse', endpoint: { requestUri: '/ofrep/v1/event-stream' } }]);
    expect(first.body.metadata).toEqual({ version: expect.any(Number), flagConfigEtag: (await t.call('GET', '/v1/sdk/config', { key: t.keys.sdk })).headers.get('etag') });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await bulk({ 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    await t.call('POST', '/v1/rollouts/hooks/advance');
    const changed = await bulk({ 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.flags.find((f: { key: string }) => f.key === 'hooks')).toMatchObject({ value: 'new', metadata: { cohort: 'c2' } });
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('answers a bad context with the bulk failure shape', async () => {
    const reply = await t.call('POST', '/ofrep/v1/evaluate/flags', { key: t.keys.sdk, body: { context: { email: 'a@b' } } });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ errorCode: 'TARGETING_KEY_MISSING', errorDetails: expect.any(String) });
  });
});

describe('OFREP in /openapi.json', () => {
  it('describes the routes with the protocol response shapes and both key schemes', async () => {
    const doc = (await t.call('GET', '/openapi.json', { key: null })).body;
    const single = doc.paths['/ofrep/v1/evaluate/flags/{key}'].post;
    expect(single.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    // Schemas and shared responses are named under components; the operations point at them.
    const named = (ref: { $ref: string }, where: 'schemas' | 'responses') => doc.components[where][ref.$ref.split('/').pop()!];
    expect(named(single.responses['200'].content['application/json'].schema, 'schemas').properties.reason.enum).toEqual(['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED']);
    expect(named(single.responses['400'].content['application/json'].schema, 'schemas').properties.errorCode.enum).toContain('TARGETING_KEY_MISSING');
    expect(named(single.responses['429'], 'responses').headers['Retry-After']).toBeDefined();
    const bulk = doc.paths['/ofrep/v1/evaluate/flags'].post;
    expect(bulk.responses['304']).toBeDefined();
    expect(bulk.parameters.map((p: { name: string; in: string }) => `${p.in} ${p.name}`)).toEqual(['query flagConfigEtag', 'query flagConfigLastModified']);
    expect(named(bulk.responses['200'].content['application/json'].schema, 'schemas').properties.eventStreams.items.properties.type.const).toBe('sse');
    const events = doc.paths['/ofrep/v1/event-stream'].get;
    expect(events.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(events.responses['200'].content)).toEqual(['text/event-stream']);
    expect(events.responses['401']).toBeDefined();
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
  });
});
