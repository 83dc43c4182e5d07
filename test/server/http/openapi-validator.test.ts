/** The validator the API session test relies on refuses what `/openapi.json` does not declare. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResponseValidator, type Exchange } from '../../helpers/openapi-validator.ts';
import { createRollout, createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
let validator: ReturnType<typeof createResponseValidator>;
let exchange: Exchange;
beforeAll(async () => {
  t = await createTestApp();
  validator = createResponseValidator((await t.call('GET', '/openapi.json', { key: null })).body);
  await createRollout(t, 'webhooks');
  const reply = await t.call('GET', '/v1/rollouts/webhooks');
  exchange = { method: 'GET', url: '/v1/rollouts/webhooks', status: reply.status, contentType: reply.headers.get('content-type'), text: reply.text };
});
afterAll(() => t.close());

const edited = (edit: (body: any) => unknown) => ({ ...exchange, text: JSON.stringify(edit(JSON.parse(exchange.text))) });

describe('the response validator', () => {
  it('takes the response the server gave', () => {
    expect(() => validator.check(exchange)).not.toThrow();
    expect(validator.seen).toEqual([{ operation: 'get /v1/rollouts/{key}', status: 200 }]);
  });

  it('refuses a status or a content type the operation does not declare', () => {
    expect(() => validator.check({ ...exchange, status: 500 })).toThrow(/status not declared/);
    expect(() => validator.check({ ...exchange, contentType: 'text/html' })).toThrow(/content type text\/html not declared/);
    expect(() => validator.check({ ...exchange, url: '/v1/nothing/here' })).toThrow(/no operation/);
  });

  it('refuses a field too many, a field missing and a value of the wrong format', () => {
    expect(() => validator.check(edited((body) => ({ ...body, secret: 'x' })))).toThrow(/must NOT have additional properties/);
    expect(() => validator.check(edited(({ cohorts: _cohorts, ...rest }) => rest))).toThrow(/must have required property 'cohorts'/);
    expect(() => validator.check(edited((body) => ({ ...body, createdAt: 'yesterday' })))).toThrow(/date-time/);
    expect(() => validator.check(edited((body) => ({ ...body, health: { ...body.health, status: 'fine' } })))).toThrow(/must be equal to one of the allowed values/);
  });

  it('checks an error against the one error shape', () => {
    const error = { method: 'GET', url: '/v1/rollouts/nothere', status: 404, contentType: 'application/json' };
    expect(() => validator.check({ ...error, text: JSON.stringify({ error: { code: 'not_found', message: 'no' } }) })).not.toThrow();
    expect(() => validator.check({ ...error, text: JSON.stringify({ message: 'no' }) })).toThrow(/does not match/);
  });
});
