import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, RollcallTimeoutError, type ClientOptions, type HandlerContext, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
let rc: RollcallClient;
let seq = 0;

async function setup(options: Partial<ClientOptions> = {}) {
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 60_000, ...options });
  await rc.ready();
}

beforeEach(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'shadowed', plan: [{ live: 0, shadow: 100 }] });
  await live.api('POST', '/v1/rollouts', { key: 'verified', plan: [{ live: 100, verify: 1 }] });
  await live.api('POST', '/v1/rollouts', { key: 'plain', plan: [{ live: 100 }] });
  for (const key of ['shadowed', 'verified', 'plain']) await live.api('POST', `/v1/rollouts/${key}/start`);
});
afterEach(async () => {
  await rc?.close();
  await live.close();
});

const msg = () => ({ partnerId: `partner-${seq % 7}`, messageId: `m-${++seq}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function counts(rollout: string) {
  const rows = await live.database.client.execute({
    sql: `SELECT c.cohort, c.path, sum(received) received, sum(processed) processed, sum(failed) failed, sum(compared) compared,
          sum(mismatched) mismatched, sum(skipped) skipped, sum(dropped) dropped
          FROM cohort_counts c JOIN rollouts r ON r.id = c.rollout_id WHERE r.key = ? GROUP BY c.cohort, c.path`,
    args: [rollout],
  });
  return rows.rows.map((r) => ({ ...r }));
}

/** Flushes until every message the rollout received has been compared or skipped (the candidates finish on their own time). */
async function settleComparisons(rollout = 'shadowed') {
  await waitFor(
    async () => {
      await rc.flush();
      const rows = await counts(rollout);
      const total = (key: string) => rows.reduce((sum, row) => sum + Number(row[key]), 0);
      return rows.length > 0 && total('compared') + total('skipped') >= total('received');
    },
    10_000,
    `the comparisons of ${rollout} to be reported`,
  );
}

describe('run() in a shadow cohort', () => {
  it('returns the old result and reports the new path’s differences by path', async () => {
    await setup();
    const seen: HandlerContext[] = [];
    const result = await rc.run('shadowed', msg(), {
      old: (ctx) => (seen.push(ctx), { type: 'invoice.paid', amount: 10 }),
      new: async (ctx) => (seen.push(ctx), { type: 'invoice.created', amount: 10 }),
    });
    expect(result).toEqual({ type: 'invoice.paid', amount: 10 });
    await settleComparisons();
    expect(seen).toEqual([{ path: 'old', shadow: false }, { path: 'new', shadow: true }]);
    expect(await counts('shadowed')).toEqual([{ cohort: 'shadow', path: 'shadow', received: 1, processed: 1, failed: 0, compared: 1, mismatched: 1, skipped: 0, dropped: 0 }]);
    const mismatches = (await live.api('GET', '/v1/rollouts/shadowed/mismatches')).body.items;
    expect(mismatches).toMatchObject([{ cohort: 'shadow', kind: 'diff', authoritative: 'old', diffs: [{ path: '$.type', old: 'invoice.paid', new: 'invoice.created' }] }]);
  });

  it('never lets the new path’s throw, hang or slowness reach the caller', async () => {
    await setup({ shadowTimeoutMs: 2_000 });
    expect(await rc.run('shadowed', msg(), { old: () => 'ok', new: () => { throw new Error('candidate broke'); } })).toBe('ok');
    expect(await rc.run('shadowed', msg(), { old: async () => 'ok', new: () => Promise.reject(new Error('async break')) })).toBe('ok');
    const started = performance.now();
    expect(await rc.run('shadowed', msg(), { old: async () => 'fast', new: () => new Promise(() => {}) })).toBe('fast');
    expect(await rc.run('shadowed', msg(), { old: async () => 'fast', new: () => sleep(1_000).then(() => 'slow') })).toBe('fast');
    expect(performance.now() - started).toBeLessThan(500);
    await settleComparisons();
    const kinds = (await live.api('GET', '/v1/rollouts/shadowed/mismatches')).body.items.map((m: any) => m.kind).sort();
    expect(kinds).toEqual(['diff', 'error', 'error', 'timeout']);
  });

  it('times out exactly the candidates that hang, among many settling in any order', async () => {
    await setup({ shadowTimeoutMs: 400 });
    // Every third candidate never settles; the rest settle after their own delay, out of
    // the order they started in, so the deadline bookkeeping is left from the middle.
    const delays = Array.from({ length: 45 }, (_, i) => (i % 3 === 0 ? null : (i * 37) % 250));
    await Promise.all(delays.map((delay) => rc.run('shadowed', msg(), { old: async () => 1, new: () => (delay === null ? new Promise(() => {}) : sleep(delay).then(() => 1)) })));
    await settleComparisons();
    expect(await counts('shadowed')).toMatchObject([{ received: 45, processed: 45, compared: 45, mismatched: 15, skipped: 0 }]);
  });

  it('counts a comparison that throws as a difference in (error), never as equal', async () => {
    await setup();
    const poisoned = (): { type: string } => ({ toJSON() { throw new Error('cannot serialise'); }, get type(): string { throw new Error('getter throws'); } }) as { type: string };
    await rc.run('shadowed', msg(), { old: () => ({ type: 'a' }), new: poisoned });
    await settleComparisons();
    expect(await counts('shadowed')).toMatchObject([{ received: 1, processed: 1, compared: 1, mismatched: 1 }]);
    const sets = await live.database.client.execute('SELECT fields FROM mismatch_field_sets');
    expect(sets.rows.map((r) => r.fields)).toEqual(['(error)']);
  });

  it('rethrows the old path’s error, whatever the new path does', async () => {
    await setup();
    const boom = new Error('old failed');
    await expect(rc.run('shadowed', msg(), { old: () => Promise.reject(boom), new: () => 'fine' })).rejects.toBe(boom);
    await settleComparisons();
    expect(await counts('shadowed')).toMatchObject([{ received: 1, processed: 0, failed: 1, compared: 1, mismatched: 1 }]);
    const ledger = await live.database.client.execute("SELECT status, error FROM messages");
    expect(ledger.rows.map((r) => ({ ...r }))).toEqual([{ status: 'failed', error: 'Error: old failed' }]);
  });

  it('caps concurrent comparisons and counts the ones it skips', async () => {
    await setup({ maxConcurrentComparisons: 2 });
    await Promise.all(Array.from({ length: 10 }, () => rc.run('shadowed', msg(), { old: async () => 1, new: () => sleep(100).then(() => 1) })));
    await settleComparisons();
    expect(await counts('shadowed')).toMatchObject([{ received: 10, processed: 10, compared: 2, skipped: 8, mismatched: 0 }]);
  });

  it('applies ignore paths and redaction before reporting', async () => {
    await setup({ compareByRollout: { shadowed: { ignore: ['$.requestId'], redact: ['$.card'] } } });
    await rc.run('shadowed', msg(), { old: () => ({ requestId: 'a', card: '4111-1111', ok: true }), new: () => ({ requestId: 'b', card: '4222-2222', ok: true }) });
    await rc.run('shadowed', msg(), { old: () => ({ requestId: 'a', card: '4111-1111', ok: true }), new: () => ({ requestId: 'b', card: '4111-1111', ok: false }) });
    await settleComparisons();
    const items = (await live.api('GET', '/v1/rollouts/shadowed/mismatches')).body.items;
    expect(JSON.stringify(items)).not.toContain('4111');
    expect(JSON.stringify(items)).not.toContain('4222');
    expect(items.map((m: any) => m.diffs)).toEqual([[{ path: '$.ok', old: true, new: false }], [{ path: '$.card', old: '[redacted]', new: '[redacted]' }]]);
  });

  it('learns noise by running the old path twice (marked shadow), and the server withdraws mismatches that lie wholly in it', async () => {
    await setup({ compare: { learnNoise: 1 } });
    let clock = 0;
    const calls: HandlerContext[] = [];
    const handler = (ctx: HandlerContext) => (calls.push(ctx), { id: 'evt', at: ++clock, total: 3 });
    await rc.run('shadowed', msg(), { old: handler, new: handler });
    await rc.run('shadowed', msg(), { old: handler, new: handler });
    await settleComparisons();
    expect(calls.filter((c) => c.path === 'old' && c.shadow)).toHaveLength(2);
    const body = (await live.api('GET', '/v1/rollouts/shadowed/mismatches')).body;
    expect(body.learnedNoise).toEqual(['$.at']);
    expect(body.noise).toMatchObject({ runs: 2, learning: { runs: 2, needed: 20 }, fields: [{ path: '$.at', differing: 2, learnedFrom: 2, noise: true }] });
    expect(body.fields).toEqual([expect.objectContaining({ path: '$.at', count: 2, compared: 2, noise: true })]);
    expect(body.items.map((m: any) => [m.withdrawn, m.diffs, m.noise.map((d: any) => d.path)])).toEqual([
      [true, [], ['$.at']],
      [true, [], ['$.at']],
    ]);
    // The SDK reports every mismatch as it saw it; the server's figures are net of noise.
    expect(await counts('shadowed')).toMatchObject([{ compared: 2, mismatched: 2 }]);
    const shadow = (await live.api('GET', '/v1/rollouts/shadowed/health')).body.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 2, mismatched: 0, withdrawn: 2 });
  });
});

describe('run() on the live path', () => {
  it('returns the new result and, for the verify share, compares with old', async () => {
    await setup();
    expect(await rc.run('verified', msg(), { old: () => 'old-answer', new: () => 'new-answer' })).toBe('new-answer');
    await settleComparisons('verified');
    expect(await counts('verified')).toMatchObject([{ cohort: 'c1', path: 'new', received: 1, processed: 1, compared: 1, mismatched: 1 }]);
    expect((await live.api('GET', '/v1/rollouts/verified/mismatches')).body.items[0]).toMatchObject({ authoritative: 'new', diffs: [{ path: '$', old: 'old-answer', new: 'new-answer' }] });
  });

  it('counts a handler that outlives timeoutMs as failed and rejects', async () => {
    await setup();
    await expect(rc.run('plain', msg(), { old: () => 1, new: () => new Promise(() => {}) }, { timeoutMs: 50 })).rejects.toBeInstanceOf(RollcallTimeoutError);
    await rc.flush();
    expect(await counts('plain')).toMatchObject([{ received: 1, processed: 0, failed: 1 }]);
  });

  it('runs old, uncounted, for a rollout it does not know', async () => {
    await setup();
    expect(await rc.run('nope', msg(), { old: () => 'old', new: () => 'new' })).toBe('old');
    await rc.flush();
    const rows = await live.database.client.execute('SELECT count(*) n FROM cohort_counts');
    expect(rows.rows[0]!.n).toBe(0);
  });
});

describe('accounting by hand, across processes', () => {
  it('reconciles received in one client with processed in another', async () => {
    await setup();
    const other = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 60_000 });
    await other.ready();
    const m = { partnerId: 'partner-1', messageId: 'cross-1' };
    rc.received('plain', m);
    await rc.flush();
    other.processed('plain', m);
    await other.flush();
    await other.close();
    expect(await counts('plain')).toMatchObject([{ received: 1, processed: 1 }]);
    const ledger = await live.database.client.execute("SELECT message_id, status, received_at IS NOT NULL has_received FROM messages");
    expect(ledger.rows.map((r) => ({ ...r }))).toEqual([{ message_id: 'cross-1', status: 'processed', has_received: 1 }]);
  });

  it('sends a message settled within the window as counts only', async () => {
    await setup();
    const m = { partnerId: 'partner-2', messageId: 'quick-1' };
    rc.received('plain', m);
    rc.processed('plain', m);
    rc.received('plain', { partnerId: 'partner-2', messageId: 'open-1' });
    await rc.flush();
    const ledger = await live.database.client.execute('SELECT message_id, status FROM messages');
    expect(ledger.rows.map((r) => ({ ...r }))).toEqual([{ message_id: 'open-1', status: 'open' }]);
    expect(rc.status.inFlight).toBe(1);
  });

  it('keeps ids that name object properties apart like any other id', async () => {
    await setup();
    const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '42'];
    for (const messageId of ids) rc.received('plain', { partnerId: 'partner-3', messageId });
    expect(rc.status.inFlight).toBe(ids.length);
    for (const messageId of ids) rc.processed('plain', { partnerId: 'partner-3', messageId });
    expect(rc.status.inFlight).toBe(0);
    await rc.flush();
    expect(await counts('plain')).toMatchObject([{ received: 6, processed: 6 }]);
    const ledger = await live.database.client.execute('SELECT count(*) n FROM messages');
    expect(ledger.rows[0]!.n).toBe(0);
  });
});
