/**
 * Ingestion's writes as one JSON parameter (for a libsql server) produce
 * exactly the rows of the `?` lists the embedded file runs: the same input,
 * written both ways into two real database files, leaves the same tables.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SqlTransaction } from '../../../server/db/database.ts';
import { recordHeardAll } from '../../../server/reporters/store.ts';
import * as store from '../../../server/reports/store.ts';
import { COUNTERS, zeroCounts, type Path } from '@rollcall/protocol';
import { createRollout, createTestApp, type TestApp } from '../../helpers/test-app.ts';

const apps: TestApp[] = [];
afterEach(async () => {
  for (const t of apps.splice(0)) await t.close();
});

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

/** Two rounds of writes with every kind of row, the second meeting the first's (upserts, status rules). */
async function writeAll(runner: SqlTransaction, rolloutId: number): Promise<void> {
  for (const round of [0, 1]) {
    const now = T0 + round * 5_000;
    const counts = Array.from({ length: 150 }, (_, i) => {
      const row = { rolloutId, cohort: `c${i % 3}`, path: (i % 2 === 0 ? 'new' : 'old') as Path, bucket: 1_000 + Math.floor(i / 6), ...zeroCounts() };
      COUNTERS.forEach((c, k) => (row[c] = (i * 7 + k + round) % 11));
      return row;
    });
    await store.addCounts(runner, counts);
    await store.addLatency(runner, Array.from({ length: 70 }, (_, i) => ({ rolloutId, cohort: 'c1', path: 'new' as Path, role: (i % 2 === 0 ? 'authoritative' : 'candidate') as 'authoritative' | 'candidate', bucket: 960, slot: i % 35, count: i + 1 })));
    await store.addDropped(runner, [{ rolloutId, cohort: 'c1', path: 'new', reason: 'buffer_full', bucket: 960, count: 3 + round }]);
    const message = (i: number, status: store.MessageRow['status'], at: number): store.MessageRow => ({
      rolloutId, messageId: `m${i}`, partnerId: `p${i % 17}`, cohort: 'c1', path: 'new', status, receivedAt: i % 9 === 0 ? null : T0 + i, settledAt: status === 'open' ? null : at, error: i % 13 === 0 ? 'boom é "quoted"' : null,
    });
    // Round 0 opens 300 and settles some; round 1 settles others, late ones among them, and reopens a few.
    await store.openMessages(runner, Array.from({ length: 300 }, (_, i) => message(i + round * 250, 'open', now)));
    await store.settleMessages(runner, Array.from({ length: 200 }, (_, i) => message(i * 2 + round, i % 4 === 0 ? 'failed' : 'processed', now + (i % 3) * 40_000)), 60_000);
    if (round === 0) await runner.execute({ sql: "UPDATE messages SET status = 'lost' WHERE message_id IN ('m5', 'm7', 'm9')", args: [] });
    await store.addFieldSets(runner, [{ rolloutId, cohort: 'shadow', path: 'shadow', bucket: 1_000, fields: 'a.b\nc', count: 2 }]);
    await store.addNoise(runner, [{ rolloutId, runs: 3, differing: new Map([['$.ts', 2], ['$.id', 1]]) }], now);
    await store.insertClaims(runner, Array.from({ length: 5 }, (_, i) => ({ batchId: `b${round}-${i}`, instanceId: `i${i}` })), now);
    await recordHeardAll(runner, [
      { instanceId: 'i1', watermark: now - 100, final: false, rolloutIds: new Set([rolloutId]) },
      { instanceId: 'i2', watermark: now - 900 + round * 2_000, final: round === 1, rolloutIds: round === 0 ? new Set([rolloutId]) : new Set() },
    ], now);
  }
}

describe('ingest rows sent as one JSON parameter', () => {
  it('leave exactly the rows the ? lists leave, on a real database file', async () => {
    const dumps: Record<string, unknown[] | undefined>[] = [];
    for (const rowsAsJson of [false, true]) {
      const t = await createTestApp();
      apps.push(t);
      const rolloutId = (await createRollout(t, 'same')).body.id ?? Number((await t.database.client.execute("SELECT id FROM rollouts WHERE key = 'same'")).rows[0]!.id);
      // Ingestion's writes take a transaction's runner: here one's statements, sent as they come, in either form.
      await t.database.write((_tx, sql) => writeAll({ ...sql, rowsAsJson }, rolloutId));
      const dump = await t.dump();
      dumps.push(Object.fromEntries(['cohort_counts', 'latency_counts', 'dropped_events', 'messages', 'mismatch_field_sets', 'learned_noise', 'noise_runs', 'report_batches', 'reporters'].map((table) => [table, dump[table]])));
    }
    expect(dumps[0]!.messages!.length).toBeGreaterThan(500);
    expect(dumps[0]!.reporters!.length).toBe(2);
    expect(dumps[1]).toEqual(dumps[0]);
  });
});
