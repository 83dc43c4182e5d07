/**
 * `/openapi.json` against a committed copy, byte for byte: a change to the API
 * must be made on purpose. After a deliberate change, regenerate the copy with
 * `UPDATE_OPENAPI=1 npx vitest run test/server/http/openapi-snapshot.test.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../helpers/test-app.ts';

const COPY = fileURLToPath(new URL('./openapi.json', import.meta.url));

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('/openapi.json', () => {
  it('is byte-identical to the committed copy (UPDATE_OPENAPI=1 rewrites it)', async () => {
    const reply = await t.call('GET', '/openapi.json', { key: null });
    expect(reply.status).toBe(200);
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(COPY, reply.text);
    expect(reply.text).toBe(readFileSync(COPY, 'utf8'));
  });
});
