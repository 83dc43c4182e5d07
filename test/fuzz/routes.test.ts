/**
 * Generated bad input for every route the server answers: bodies, raw bytes,
 * queries, params and headers. Never a 5xx; every error in the one shape;
 * a refused request leaves every row of every table as it was.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
let routes: { method: string; path: string }[];
let ids: Record<string, string>;
let requests = 0;
let refused = 0;

beforeAll(async () => {
  t = await createTestApp({ deps: { authFailures: { max: 1e9 } } });
  await createRollout(t, 'r');
  await t.call('POST', '/v1/rollouts/r/start');
  await t.call('POST', '/v1/rollouts/r/advance');
  const callback = (await t.call('POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com/a' } })).body;
  ids = { key: 'r', id: callback.id, partnerId: 'p1', action: 'revert' };
  routes = t.rollcall.app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path }));
  // The event streams answer forever by design (their bad input is covered in test/server/stream.test.ts
  // and test/server/ofrep/event-stream.test.ts).
  const streams = new Set(['/v1/sdk/stream', '/ofrep/v1/event-stream']);
  routes = [...new Map(routes.map((r) => [`${r.method} ${r.path}`, r])).values()].filter((r) => !streams.has(r.path));
});
afterAll(async () => {
  console.log(`route fuzz: ${requests} generated requests over ${routes.length} routes, ${refused} refused with 4xx`);
  await t.close();
});

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '__proto__', 'constructor', '../..', '%00', '\u0000', 'null', '-1', '1e309', '9'.repeat(40), 'ü', '😀', 'a'.repeat(300)),
);

/** Bodies: JSON of every shape, deep nesting, huge arrays and numbers, pollution keys, and broken bytes. */
const rawBody = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc.object({ maxDepth: 4, key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', 'key', 'plan', 'url', 'reason', 'cohort', 'since', 'kind', 'live')) }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 200_000 }).map((n) => JSON.stringify({ plan: Array.from({ length: Math.min(n, 50_000) }, () => ({ live: 1 })) })),
  fc.constantFrom('{"key":"a","key":"b","plan":[{"live":5}]}', '{"__proto__":{"admin":true},"key":"x"}', '{"live":1e400}', '{"url":"http://169.254.169.254/"}', '{"since":-1}', '{"cohort":"c1","reason":"x"'),
  fc.jsonValue().map((v) => JSON.stringify(v)).chain((s) => fc.nat({ max: Math.max(0, s.length - 1) }).map((cut) => s.slice(0, cut))),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from([0xff, 0xfe, ...bytes]).toString('latin1')),
);

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', '');

const query = fc.dictionary(fc.constantFrom('limit', 'after', 'before', 'status', 'window', 'cohort', 'rollout', 'x', '__proto__'), junkString, { maxKeys: 3 });

/** A header value as a client would send it: the string's UTF-8 bytes (headers carry bytes, not characters). */
const asHeader = (value: string) => Buffer.from(value, 'utf8').toString('latin1').replace(/[\r\n\0]/g, ' ');

function fill(path: string, useJunk: boolean, junk: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(useJunk ? junk : (ids[name] ?? junk)));
}

describe('every route, with generated bad input', () => {
  it('answers 4xx (never 5xx) in the error shape, and changes nothing when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.boolean(),
        junkString,
        fc.option(rawBody, { nil: undefined }),
        contentType,
        query,
        fc.record({ ifMatch: fc.option(junkString, { nil: undefined }), encoding: fc.option(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x'), { nil: undefined }) }),
        async (which, junkParams, junk, body, type, q, extra) => {
          const route = routes[which % routes.length]!;
          const search = new URLSearchParams(q as Record<string, string>).toString();
          const path = fill(route.path, junkParams, junk) + (search ? `?${search}` : '');
          const headers: Record<string, string> = { origin: 'http://localhost' };
          if (type !== '') headers['content-type'] = type;
          if (extra.ifMatch !== undefined) headers['if-match'] = asHeader(extra.ifMatch);
          if (extra.encoding !== undefined) headers['content-encoding'] = extra.encoding;
          const before = JSON.stringify(await t.dump());
          const reply = await t.call(route.method, path, { raw: route.method === 'GET' ? undefined : body, headers });
          requests++;
          expect(reply.status, `${route.method} ${path} → ${reply.text.slice(0, 200)}`).toBeLessThan(500);
          if (reply.status >= 400) {
            refused++;
            if (path.startsWith('/v1/') || path === '/metrics') {
              expect(reply.body?.error, `${route.method} ${path}`).toMatchObject({ code: expect.any(String), message: expect.any(String) });
            }
            expect(JSON.stringify(await t.dump()), `${route.method} ${path} changed rows`).toBe(before);
          }
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1500), seed: Number(process.env.FUZZ_SEED ?? 20261122) },
    );
  }, 300_000);

  it('answers bad keys with 401 and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.oneof(junkString, fc.string({ minLength: 16, maxLength: 600 })), async (which, key) => {
        const route = routes.filter((r) => r.path.startsWith('/v1/'))[which % routes.filter((r) => r.path.startsWith('/v1/')).length]!;
        const reply = await t.call(route.method, fill(route.path, false, 'x'), { key: asHeader(key) });
        requests++;
        expect([400, 401]).toContain(reply.status);
        expect(reply.body.error.code).toMatch(/unauthorized|invalid/);
      }),
      { numRuns: 300, seed: 7 },
    );
  }, 120_000);
});
