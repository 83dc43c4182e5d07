import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cohortSums, ledgerCounts } from '../../../server/health/store.ts';
import { markLost, oldestOpen } from '../../../server/lost/store.ts';
import { createRollout, createTestApp, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const traffic = (rollout: string, cohort: string, total: number, open: number, path: 'new' | 'old' | 'shadow' = 'new') => sendTraffic(t, rollout, cohort, total, open, path);

describe('lost messages over the API', () => {
  it('lists lost messages by id, oldest first, a page at a time', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 100_000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 5, 5);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    const first = await t.call('GET', '/v1/rollouts/r/lost?status=lost&limit=3');
    expect(first.body.items).toHaveLength(3);
    expect(first.body.items[0]).toMatchObject({ partnerId: 'p0', cohort: 'c1', path: 'new', status: 'lost', replayAttempts: 0 });
    const second = await t.call('GET', `/v1/rollouts/r/lost?status=lost&limit=3&after=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.items, ...second.body.items].map((m: any) => m.messageId);
    expect(new Set(all).size).toBe(5);
    expect((await t.call('GET', '/v1/rollouts/r/lost?after=garbage')).status).toBe(400);
    expect((await t.call('GET', '/v1/rollouts/r/lost?status=open')).status).toBe(400);
  });

  it('leases lost messages so two instances never hold one at once, and takes back an expired lease', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 100_000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 4, 4);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    const claim = (instanceId: string) => t.call('POST', '/v1/sdk/replay/claim', { key: t.keys.sdk, body: { instanceId, rollouts: ['r'], limit: 3, leaseSeconds: 30 } });
    const a = (await claim('a')).body.items;
    const b = (await claim('b')).body.items;
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(1);
    expect(new Set([...a, ...b].map((m: any) => m.messageId)).size).toBe(4);
    const ack = await t.call('POST', '/v1/sdk/replay/ack', { key: t.keys.sdk, body: { instanceId: 'b', items: [{ rollout: 'r', messageId: a[0].messageId, ok: true }, { rollout: 'r', messageId: b[0].messageId, ok: true }] } });
    expect(ack.body).toEqual({ replayed: 1, released: 0, ignored: 1 }); // b cannot settle a's lease
    // Replay progress as /health shows it: 3 still lost, all 3 under a lease, 1 replayed.
    expect((await t.call('GET', '/v1/rollouts/r/health')).body.replay).toEqual({ lost: 3, leased: 3, replayed: 1, late: 0 });
    t.clock.advance(31_000);
    expect((await t.call('GET', '/v1/rollouts/r/health')).body.replay).toEqual({ lost: 3, leased: 0, replayed: 1, late: 0 });
    const again = (await claim('b')).body.items;
    expect(again.map((m: any) => m.messageId).sort()).toEqual(a.map((m: any) => m.messageId).sort());
    expect(again[0].attempt).toBe(2);
  });
});

describe('queries stay on indexes', () => {
  it('never scans a whole table for the controller’s reads and writes', async () => {
    const explain = async (query: string) => (await t.database.client.execute(`EXPLAIN QUERY PLAN ${query}`)).rows.map((r) => String(r.detail)).join(' | ');
    const plans = [
      await explain("SELECT rowid FROM messages WHERE rollout_id = 1 AND status = 'open' AND received_at <= 5 ORDER BY received_at LIMIT 10"),
      await explain("SELECT count(*) FROM messages WHERE rollout_id = 1 AND status IN ('lost', 'late', 'replayed') AND received_at >= 0 AND cohort = 'c1' AND path = 'new' GROUP BY status"),
      await explain("SELECT path, sum(received) FROM cohort_counts WHERE rollout_id = 1 AND cohort = 'c1' AND path IN ('old', 'new', 'shadow') AND bucket >= 0 GROUP BY path"),
      await explain("SELECT 1 FROM messages WHERE rollout_id = 1 AND status = 'open' AND received_at <= 5 LIMIT 1"),
    ];
    for (const plan of plans) {
      expect(plan).toMatch(/USING (COVERING )?INDEX|USING PRIMARY KEY/);
      expect(plan).not.toMatch(/SCAN (messages|cohort_counts)(?! USING)/);
    }
    // Open rows per cohort, on the rollout page: a read of one status never walks the rollout's whole ledger.
    expect(await explain("SELECT cohort, count(*) FROM messages WHERE rollout_id = 1 AND status = 'open' GROUP BY cohort")).toMatch(/\(rollout_id=\? AND status=\?\)/);
    // The store functions run those statements.
    await t.database.write((tx) => markLost(tx, 1, 5, 10));
    expect((await oldestOpen(t.database.db)).has(1)).toBe(false);
    expect((await cohortSums(t.database.db, 1, 'c1', 0, 5)).size).toBe(0);
    expect(await ledgerCounts(t.database.db, 1, 'c1', 'new', 0, 5)).toEqual({});
  });
});
