/**
 * A whole API session — keys, a rollout through its lifecycle, reports, lost
 * messages and their replay, callbacks and deliveries, the SDK's config,
 * OFREP, audit, and the error paths — with every response checked against
 * the operation it went to in `/openapi.json` by a JSON Schema validator.
 * An undeclared status, content type or shape fails the test, and so does a
 * JSON operation the session never reached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibsqlError } from '@libsql/client';
import type { AttemptResult } from '../../../server/callbacks/sender.ts';
import { createResponseValidator } from '../../helpers/openapi-validator.ts';
import { createTestApp, PLAN, type CallOptions, type Reply, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
let validator: ReturnType<typeof createResponseValidator>;
let document: any;
const sent: string[] = [];
const receiver = async (url: string): Promise<AttemptResult> => {
  sent.push(url);
  return { status: 500, latencyMs: 3, error: null, excerpt: 'down for maintenance', address: '203.0.113.7', retryAfterMs: null };
};

beforeAll(async () => {
  t = await createTestApp({ deps: { callbacks: { send: receiver, random: () => 0.5 }, authFailures: { max: 3 } } });
  document = (await t.call('GET', '/openapi.json', { key: null })).body;
  validator = createResponseValidator(document);
});
afterAll(() => t.close());

/** A request whose response must be one its operation declares. */
async function call(method: string, path: string, options?: CallOptions): Promise<Reply> {
  const reply = await t.call(method, path, options);
  validator.check({ method, url: path, status: reply.status, contentType: reply.headers.get('content-type'), text: reply.text });
  return reply;
}

async function expectStatus(status: number, method: string, path: string, options?: CallOptions): Promise<Reply> {
  const reply = await call(method, path, options);
  expect(reply.status, `${method} ${path}: ${reply.text}`).toBe(status);
  return reply;
}

const sdk = (body: unknown): CallOptions => ({ key: t.keys.sdk, body });
const now = () => t.clock.now();
let batch = 0;
const report = (parts: Record<string, unknown>) =>
  sdk({ batchId: `batch-${String(++batch).padStart(4, '0')}`, sdk: { name: 'test', version: '0', instanceId: 'i-1' }, sentAt: now(), counts: [], messages: [], mismatches: [], noise: [], ...parts });

describe('every response of an API session matches /openapi.json', () => {
  it('the service routes', async () => {
    await expectStatus(200, 'GET', '/healthz', { key: null });
    await expectStatus(200, 'GET', '/readyz', { key: null });
    await expectStatus(200, 'GET', '/openapi.json', { key: null });
    await expectStatus(200, 'GET', '/metrics', { key: t.keys.read });
    await expectStatus(401, 'GET', '/metrics', { key: null });
  });

  it('keys', async () => {
    const created = await expectStatus(201, 'POST', '/v1/keys', { body: { kind: 'read', name: 'auditor' } });
    await expectStatus(200, 'GET', '/v1/keys?limit=2');
    await expectStatus(200, 'POST', `/v1/keys/${created.body.id}/revoke`, { body: { reason: 'left' } });
    await expectStatus(409, 'POST', `/v1/keys/${created.body.id}/revoke`);
    await expectStatus(200, 'POST', `/v1/keys/${created.body.id}/restore`);
    await expectStatus(404, 'POST', '/v1/keys/key_nothere/restore');
    await expectStatus(200, 'POST', '/v1/keys/prune', { body: { unusedDays: 30 } });
    await expectStatus(400, 'POST', '/v1/keys', { body: { kind: 'root', name: 'x' } });
    await expectStatus(403, 'GET', '/v1/keys', { key: t.keys.read });
    await expectStatus(401, 'GET', '/v1/keys', { key: 'rc_admin_not-a-key-at-all' });
  });

  it('a rollout through its lifecycle, with reports, health, lost messages and replay', async () => {
    await expectStatus(200, 'POST', '/v1/rollouts?dryRun=true', { body: { key: 'webhooks', plan: PLAN, guards: { graceSeconds: 1, minSample: 100_000 } } });
    await expectStatus(201, 'POST', '/v1/rollouts', { body: { key: 'webhooks', plan: PLAN, guards: { graceSeconds: 1, minSample: 100_000 } } });
    await expectStatus(409, 'POST', '/v1/rollouts?dryRun=true', { body: { key: 'webhooks', plan: PLAN } });
    await expectStatus(400, 'POST', '/v1/rollouts?dryRun=maybe', { body: { key: 'other', plan: PLAN } });
    await expectStatus(409, 'POST', '/v1/rollouts', { body: { key: 'webhooks', plan: PLAN } });
    await expectStatus(400, 'POST', '/v1/rollouts', { body: { key: 'Not A Key', plan: [] } });
    await expectStatus(415, 'POST', '/v1/rollouts', { raw: '{"key":"x"}', headers: { 'content-type': 'text/plain' } });
    await expectStatus(413, 'POST', '/v1/rollouts', { body: { key: 'big', description: 'x'.repeat(2 * 1024 * 1024), plan: PLAN } });
    await expectStatus(403, 'POST', '/v1/rollouts', { key: t.keys.read, body: { key: 'nope', plan: PLAN } });
    await expectStatus(404, 'GET', '/v1/rollouts/nothere');
    await expectStatus(409, 'POST', '/v1/rollouts/webhooks/advance');
    await expectStatus(200, 'PATCH', '/v1/rollouts/webhooks?dryRun=true', { body: { description: 'the new webhook pipeline', reason: 'clarity' } });
    await expectStatus(200, 'PATCH', '/v1/rollouts/webhooks', { body: { description: 'the new webhook pipeline', reason: 'clarity' } });
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/start', { body: { reason: 'go' } });
    await expectStatus(409, 'POST', '/v1/rollouts/webhooks/pause', { headers: { 'if-match': '"1"' } });
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/advance');

    // Traffic: five messages never processed (lost after the grace), and a shadow mismatch.
    await expectStatus(200, 'POST', '/v1/sdk/reports', report({
      counts: [{ rollout: 'webhooks', cohort: 'c1', path: 'new', second: Math.floor(now() / 1000), received: 20, processed: 15, failed: 0, compared: 4, mismatched: 1, skipped: 0, dropped: 0 }],
      messages: Array.from({ length: 5 }, (_, i) => ({ rollout: 'webhooks', messageId: `m-${i}`, partnerId: `p${i}`, cohort: 'c1', path: 'new', status: 'open', receivedAt: now(), at: now() })),
      mismatches: [{ rollout: 'webhooks', cohort: 'c1', messageId: 'm-9', partnerId: 'p9', at: now(), authoritative: 'new', kind: 'diff', diffs: [{ path: '$.type', old: 'paid', new: 'created' }] }],
    }));
    await expectStatus(400, 'POST', '/v1/sdk/reports', sdk({ batchId: 'broken' }));
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();

    await expectStatus(200, 'GET', '/v1/rollouts?limit=10');
    // The loss guard reverted c1 and paused the rollout: the views carry the breach.
    const item = await expectStatus(200, 'GET', '/v1/rollouts/webhooks');
    expect(item.body).toMatchObject({ state: 'paused', cohorts: [{ name: 'c1', status: 'reverted', revertKind: 'breach' }] });
    await expectStatus(200, 'GET', '/v1/rollouts/webhooks/health?window=600');
    await expectStatus(400, 'GET', '/v1/rollouts/webhooks/health?window=1');
    const mismatches = await expectStatus(200, 'GET', '/v1/rollouts/webhooks/mismatches');
    expect(mismatches.body.items).toHaveLength(1);
    const lost = await expectStatus(200, 'GET', '/v1/rollouts/webhooks/lost?status=lost&limit=2');
    expect(lost.body.items).toHaveLength(2);
    await expectStatus(404, 'GET', '/v1/rollouts/nothere/lost');

    const claimed = await expectStatus(200, 'POST', '/v1/sdk/replay/claim', sdk({ instanceId: 'i-1', rollouts: ['webhooks'] }));
    expect(claimed.body.items.length).toBeGreaterThan(0);
    const items = claimed.body.items.map((m: any, i: number) => ({ rollout: m.rollout, messageId: m.messageId, ok: i > 0, ...(i === 0 ? { error: 'still failing' } : {}) }));
    await expectStatus(200, 'POST', '/v1/sdk/replay/ack', sdk({ instanceId: 'i-1', items }));
    await expectStatus(403, 'POST', '/v1/sdk/replay/claim', { key: t.keys.read, body: { instanceId: 'i-1', rollouts: ['webhooks'] } });

    await expectStatus(200, 'PUT', '/v1/rollouts/webhooks/pins/p-vip', { body: { path: 'old', reason: 'biggest customer' } });
    await expectStatus(200, 'DELETE', '/v1/rollouts/webhooks/pins/p-vip');
    await expectStatus(404, 'DELETE', '/v1/rollouts/webhooks/pins/p-vip');
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/resume', { body: { reason: 'replayed' } });
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/pause', { body: { reason: 'looking' } });
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/resume');
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/revert', { body: { cohort: 'c1', reason: 'lost messages' } });
    await expectStatus(409, 'POST', '/v1/rollouts/webhooks/revert', { body: { cohort: 'c1', reason: 'again' } });
    await expectStatus(404, 'POST', '/v1/rollouts/webhooks/revert', { body: { cohort: 'c9', reason: 'no such cohort' } });
    await expectStatus(200, 'POST', '/v1/rollouts/webhooks/complete', { body: { reason: 'done' } });
  });

  it('callbacks and their deliveries', async () => {
    const created = await expectStatus(201, 'POST', '/v1/callbacks', { body: { url: 'https://hooks.example.com/rollcall', events: ['cohort.reverted', 'rollout.started'] } });
    const id = created.body.id;
    await expectStatus(400, 'POST', '/v1/callbacks', { body: { url: 'ftp://example.com' } });
    await expectStatus(200, 'GET', '/v1/callbacks');
    await expectStatus(200, 'GET', `/v1/callbacks/${id}`);
    await expectStatus(404, 'GET', '/v1/callbacks/cb_nothere');
    await expectStatus(200, 'POST', `/v1/callbacks/${id}/rotate-secret`);
    await expectStatus(201, 'POST', '/v1/rollouts', { body: { key: 'jobs', plan: PLAN } });
    await expectStatus(200, 'POST', '/v1/rollouts/jobs/start');
    await t.rollcall.services.worker.drain();
    expect(sent.length).toBeGreaterThan(0);
    const deliveries = await expectStatus(200, 'GET', `/v1/callbacks/${id}/deliveries`);
    const delivery = deliveries.body.items[0];
    expect(delivery.attempts.length).toBeGreaterThan(0);
    await expectStatus(200, 'POST', `/v1/deliveries/${delivery.id}/retry`);
    await expectStatus(200, 'POST', `/v1/callbacks/${id}/recover`, { body: { since: new Date(now() - 3_600_000).toISOString() } });
    await expectStatus(202, 'POST', `/v1/callbacks/${id}/test`);
    await expectStatus(200, 'POST', `/v1/callbacks/${id}/disable`, { body: { reason: 'maintenance' } });
    await expectStatus(409, 'POST', `/v1/callbacks/${id}/test`);
    await expectStatus(409, 'POST', `/v1/deliveries/${delivery.id}/retry`);
    await expectStatus(200, 'POST', `/v1/callbacks/${id}/enable`);
    await expectStatus(200, 'DELETE', `/v1/callbacks/${id}`);
    await expectStatus(409, 'POST', `/v1/callbacks/${id}/rotate-secret`);
    await expectStatus(404, 'POST', '/v1/deliveries/dlv_nothere/retry');
  });

  it('the SDK config, OFREP and the audit log', async () => {
    const config = await expectStatus(200, 'GET', '/v1/sdk/config', { key: t.keys.sdk });
    await expectStatus(304, 'GET', '/v1/sdk/config', { key: t.keys.sdk, headers: { 'if-none-match': config.headers.get('etag')! } });
    const context = { context: { targetingKey: 'p1' } };
    await expectStatus(200, 'POST', '/ofrep/v1/evaluate/flags/webhooks', sdk(context));
    await expectStatus(404, 'POST', '/ofrep/v1/evaluate/flags/nothere', sdk(context));
    await expectStatus(400, 'POST', '/ofrep/v1/evaluate/flags/webhooks', sdk({ context: {} }));
    const bulk = await expectStatus(200, 'POST', '/ofrep/v1/evaluate/flags', sdk(context));
    await expectStatus(304, 'POST', '/ofrep/v1/evaluate/flags', { ...sdk(context), headers: { 'if-none-match': bulk.headers.get('etag')! } });
    await expectStatus(400, 'POST', '/ofrep/v1/evaluate/flags', { key: t.keys.sdk, raw: '{not json' });
    await expectStatus(403, 'POST', '/ofrep/v1/evaluate/flags', { key: t.keys.read, body: context });
    const audit = await expectStatus(200, 'GET', '/v1/audit?rollout=webhooks&limit=1', { key: t.keys.read });
    await expectStatus(200, 'GET', `/v1/audit?before=${audit.body.nextCursor}`);
    await expectStatus(400, 'GET', '/v1/audit?limit=0');
  });

  it('storage that fails', async () => {
    const client = t.database.client;
    const execute = client.execute.bind(client);
    client.execute = (async () => {
      throw new LibsqlError('SQLITE_FULL: database or disk is full', 'SQLITE_FULL');
    }) as typeof client.execute;
    try {
      const failed = await expectStatus(503, 'GET', '/v1/rollouts/webhooks/lost');
      expect(failed.headers.get('retry-after')).not.toBeNull();
      expect(failed.body.error.code).toBe('storage_unavailable');
      await expectStatus(503, 'GET', '/readyz', { key: null });
    } finally {
      client.execute = execute as typeof client.execute;
    }
  });

  it('too many failed keys from one address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5 && statuses.at(-1) !== 429; i++) statuses.push((await call('GET', '/v1/rollouts', { key: `rc_read_wrong-${i}-0123456789` })).status);
    expect(statuses).toContain(401);
    expect(statuses.at(-1)).toBe(429);
  });

  it('reached every JSON operation, on success and on an error', () => {
    const reached = new Map<string, Set<number>>();
    for (const { operation, status } of validator.seen) reached.set(operation, (reached.get(operation) ?? new Set()).add(status));
    const json = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => Object.entries(op.responses).some(([status, r]: [string, any]) => status.startsWith('2') && r.content?.['application/json']))
        .map(([method]) => `${method} ${path}`),
    );
    expect(json.length).toBeGreaterThanOrEqual(40);
    const missed = json.filter((op) => ![...(reached.get(op) ?? [])].some((s) => s < 300));
    expect(missed, 'JSON operations the session never answered successfully').toEqual([]);
    const errors = new Set([...reached.values()].flatMap((statuses) => [...statuses].filter((s) => s >= 400)));
    expect([...errors].sort()).toEqual([400, 401, 403, 404, 409, 413, 415, 429, 503]);
  });
});
