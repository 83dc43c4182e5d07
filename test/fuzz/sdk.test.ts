/**
 * The SDK's public functions with generated input of any type: path() never
 * throws and answers a path; received/processed/failed never throw; and
 * whatever went in, the next report is one a real server accepts, with
 * counts that add up.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { wireId } from '@rollcall/protocol';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';

let live: LiveServer;
let rc: RollcallClient;
let calls = 0;
/** What the server said about any report it refused. */
const refusals: string[] = [];

beforeAll(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'r', plan: [{ live: 30, shadow: 60 }] });
  await live.api('POST', '/v1/rollouts/r/start');
  await live.api('PUT', '/v1/rollouts/r/pins/pinned-partner', { path: 'new' });
  const spy: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (res.status === 400) refusals.push(await res.clone().text());
    return res;
  };
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, flushIntervalMs: 60_000, maxBufferedEvents: 500, logger: { warn() {}, error() {} }, fetch: spy });
  await rc.ready();
});
afterAll(async () => {
  console.log(`sdk fuzz: ${calls} generated calls`);
  await rc.close();
  await live.close();
});

/** Anything a caller might pass by mistake, and strings that look right. */
const anything = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom('r', 'pinned-partner', '', '__proto__', 'constructor', 'toString', 'a'.repeat(10_000), '\ud800', '\u0000', NaN, -0, Infinity, Symbol('x'), () => 'r', new Proxy({}, { get: () => { throw new Error('trap'); } })),
);
const rolloutKey = fc.oneof(fc.constant('r'), anything);
const message = fc.oneof(
  fc.record({ partnerId: fc.oneof(fc.string({ maxLength: 20 }), anything), messageId: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), anything) }),
  anything,
);

describe('the SDK with generated input', () => {
  it('path() never throws and always answers old, new or shadow', () => {
    fc.assert(
      fc.property(rolloutKey, anything, (key, partner) => {
        calls++;
        expect(['old', 'new', 'shadow']).toContain(rc.path(key as string, partner as string));
      }),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('received, processed and failed never throw, and the report that follows is accepted with counts that add up', async () => {
    fc.assert(
      fc.property(fc.constantFrom('received', 'processed', 'failed'), rolloutKey, message, anything, (fn, key, msg, error) => {
        calls++;
        if (fn === 'received') rc.received(key as string, msg as never);
        else if (fn === 'processed') rc.processed(key as string, msg as never);
        else rc.failed(key as string, (msg !== null && typeof msg === 'object' ? { ...(msg as object), error } : msg) as never);
      }),
      { numRuns: 20_000, seed: 12 },
    );
    // Whatever went in, the buffer flushes to a real server without an error...
    const errors: Error[] = [];
    rc.on('error', (error) => errors.push(error));
    await rc.flush();
    expect(refusals).toEqual([]);
    expect(errors).toEqual([]);
    expect(rc.status.buffered).toBe(0);
    // ...and a well-formed message after it all is counted exactly once.
    const totals = async () => {
      const rows = await live.database.client.execute("SELECT coalesce(sum(received), 0) received, coalesce(sum(processed), 0) processed FROM cohort_counts c JOIN rollouts r ON r.id = c.rollout_id WHERE r.key = 'r'");
      return { received: Number(rows.rows[0]!.received), processed: Number(rows.rows[0]!.processed) };
    };
    const before = await totals();
    rc.received('r', { partnerId: 'pinned-partner', messageId: 'after-the-fuzz' });
    rc.processed('r', { partnerId: 'pinned-partner', messageId: 'after-the-fuzz' });
    await rc.flush();
    expect(await totals()).toEqual({ received: before.received + 1, processed: before.processed + 1 });
    expect(errors).toEqual([]);
  });

  it('sends ids longer than the server takes as a prefix and a hash, so two processes still settle one message', async () => {
    const other = createClient({ url: live.url, sdkKey: live.sdkKey, flushIntervalMs: 60_000, logger: { warn() {}, error() {} } });
    await other.ready();
    const long = { partnerId: `partner-${'p'.repeat(400)}`, messageId: `message-${'m'.repeat(400)}` };
    rc.received('r', long);
    await rc.flush();
    other.processed('r', long);
    await other.flush();
    await other.close();
    expect(refusals).toEqual([]);
    const rows = await live.database.client.execute({ sql: 'SELECT message_id, partner_id, status FROM messages WHERE message_id = ?', args: [wireId(long.messageId)] });
    expect(rows.rows.map((r) => ({ ...r }))).toEqual([{ message_id: wireId(long.messageId), partner_id: wireId(long.partnerId), status: 'processed' }]);
    expect(wireId(long.messageId)).toHaveLength(255);
    expect(wireId('short')).toBe('short');
  });
});
