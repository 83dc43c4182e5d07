import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileErrors, validate } from '@readme/openapi-parser';
import { createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
let document: any;
beforeAll(async () => {
  t = await createTestApp();
  const reply = await t.call('GET', '/openapi.json', { key: null });
  expect(reply.status).toBe(200);
  document = reply.body;
});
afterAll(() => t.close());

describe('/openapi.json', () => {
  it('validates as OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('lists every route the server answers', () => {
    const served = new Set(
      t.rollcall.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const described = new Set(Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods as object).map((m) => `${m} ${path}`)));
    expect(described).toEqual(served);
    for (const route of ['post /v1/rollouts', 'post /v1/rollouts/{key}/revert', 'get /v1/rollouts/{key}/health', 'post /v1/callbacks', 'post /v1/deliveries/{id}/retry', 'post /v1/sdk/reports', 'get /metrics']) {
      expect(described, route).toContain(route);
    }
  });

  it('describes bodies, queries and params from the schemas the routes validate with', () => {
    const create = document.paths['/v1/rollouts'].post;
    const body = create.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['key', 'plan']));
    expect(body.properties.key.pattern).toBe('^[a-z0-9][a-z0-9._-]{0,63}$');
    expect(body.properties.onBreach.enum).toEqual(['revert-cohort', 'revert-all', 'pause']);
    expect(body.additionalProperties).toBe(false);
    expect(create.responses['201']).toBeDefined();

    const callbacks = document.paths['/v1/callbacks'].post.requestBody.content['application/json'].schema;
    expect(callbacks.properties.events.items.enum).toContain('cohort.reverted');

    const lost = document.paths['/v1/rollouts/{key}/lost'].get.parameters.map((p: any) => `${p.in}:${p.name}`);
    expect(lost).toEqual(expect.arrayContaining(['path:key', 'query:status', 'query:limit']));
    const deliveries = document.paths['/v1/callbacks/{id}/deliveries'].get.parameters.find((p: any) => p.name === 'id');
    expect(deliveries.schema.pattern).toBe('^cb_[0-9A-Za-z]{1,64}$');
    expect(document.paths['/v1/sdk/reports'].post.requestBody.content['application/json'].schema.properties.batchId).toBeDefined();
  });

  it('describes every success body outside the dashboard, and each error status with the one error schema', () => {
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ name: `${method} ${path}`, op })),
    );
    const api = operations.filter(({ op }) => op.tags[0] !== 'dashboard');
    for (const { name, op } of api) {
      const [status, success] = Object.entries(op.responses).find(([s]) => s.startsWith('2'))! as [string, any];
      expect(Object.keys(success.content ?? {}), `${name} ${status}`).toHaveLength(1);
      const json = success.content['application/json'];
      if (json !== undefined) expect(document.components.schemas[json.schema.$ref.split('/').pop()], name).toBeDefined();
      for (const [code, response] of Object.entries(op.responses) as [string, any][]) {
        if (Number(code) < 400 || response.$ref === undefined) continue;
        const shared = document.components.responses[response.$ref.split('/').pop()];
        expect(shared.content['application/json'].schema, `${name} ${code}`).toEqual({ $ref: '#/components/schemas/Error' });
      }
    }
    expect(api.filter(({ op }) => Object.values(op.responses).some((r: any) => r.content?.['application/json'])).length).toBeGreaterThanOrEqual(40);
    // Statuses follow from what a route takes: a body can be too large or not JSON; a key can be wrong; GETs conflict with nothing.
    const responses = (method: string, path: string) => Object.keys(document.paths[path][method].responses);
    // 200 is a dry run's (?dryRun=true): the rollout the create would make, with nothing created.
    expect(responses('post', '/v1/rollouts')).toEqual(['200', '201', '400', '401', '403', '409', '413', '415', '429', '503']);
    expect(responses('get', '/v1/rollouts/{key}')).toEqual(['200', '401', '403', '404', '429', '503']);
    expect(responses('get', '/healthz')).toEqual(['200']);
    expect(responses('get', '/v1/sdk/config')).toEqual(['200', '304', '401', '403', '429', '503']);
  });

  it('marks what needs no key', () => {
    expect(document.paths['/healthz'].get.security).toEqual([]);
    expect(document.paths['/v1/rollouts'].get.security).toBeUndefined();
    expect(document.security).toEqual([{ bearer: [] }]);
  });
});
