/**
 * Due messages marked lost as one batch on a real libsql server (sqld): the
 * marks, the tally and the first `messages.lost` event in one batch and no
 * interactive transaction; a message settled between the read and the batch
 * fails it whole; three servers marking at once mark, tally and announce once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type RollcallApp } from '../../../server/app.ts';
import { manualClock } from '../../../server/clock.ts';
import { openDatabase, type Database } from '../../../server/db/database.ts';
import { silentLogger } from '../../../server/logger.ts';
import { startSqld, type Sqld } from '../../helpers/sqld.ts';

let sqld: Sqld;
const databases: Database[] = [];
const apps: RollcallApp[] = [];
const clock = manualClock(Date.UTC(2026, 10, 1, 12, 0, 0));
let batches = 0;
let transactions = 0;

beforeAll(async () => {
  sqld = await startSqld();
  for (let i = 0; i < 3; i++) {
    const opened = await openDatabase({ url: sqld.url });
    databases.push(opened);
    // Interactive transactions are what this path must not use: they and batches are counted.
    const database: Database = {
      ...opened,
      write: (fn) => (transactions++, opened.write(fn)),
      writeBatch: (statements) => (batches++, opened.writeBatch(statements)),
    };
    apps.push(createApp({ database, clock, logger: silentLogger }));
  }
  await apps[0]!.services.callbacks.create({ url: 'https://hooks.example.com/rollcall', events: ['messages.lost'] } as never, 'test');
}, 60_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  for (const database of databases) database.close();
  await sqld?.stop();
});

const sql = (statement: string, args: (string | number)[] = []) => databases[0]!.client.execute({ sql: statement, args });

/** A running rollout (grace 1 s) with `open` messages of c1 received now and never settled; its row. */
async function withOpen(key: string, open: number) {
  const { rollouts } = apps[0]!.services;
  await rollouts.create({ key, plan: [{ live: 50 }], guards: { graceSeconds: 1 } } as never, { actor: 'test' });
  const { rollout } = await rollouts.transition(key, { action: 'start' }, { actor: 'test' }).then(() => rollouts.get(key));
  await openMessages(rollout.id, key, open);
  return rollout;
}

async function openMessages(rolloutId: number, prefix: string, n: number) {
  for (let i = 0; i < n; i++) {
    await sql("INSERT INTO messages (rollout_id, message_id, partner_id, cohort, path, status, received_at) VALUES (?, ?, ?, 'c1', 'new', 'open', ?)", [rolloutId, `${prefix}-${clock.now()}-${i}`, `p${i}`, clock.now()]);
  }
}

const statuses = async (rolloutId: number) => Object.fromEntries((await sql('SELECT status, count(*) AS n FROM messages WHERE rollout_id = ? GROUP BY status', [rolloutId])).rows.map((r) => [r.status, Number(r.n)]));
const tally = async (rolloutId: number) => (await sql('SELECT pending, by_cohort, last_announced_at FROM lost_announcements WHERE rollout_id = ?', [rolloutId])).rows[0];
const events = async (key: string) => (await sql("SELECT body FROM callback_messages WHERE rollout_key = ? AND type = 'messages.lost' ORDER BY created_at", [key])).rows.map((r) => JSON.parse(String(r.body)).data.figures);

describe('due messages marked lost as one batch on sqld', () => {
  it('marks, tallies and announces the first loss in one batch; later losses wait in the tally', async () => {
    const rollout = await withOpen('one', 5);
    clock.advance(1_500);
    const before = { batches, transactions };
    await apps[0]!.services.lost.markDueMany([rollout], clock.now());
    expect({ batches: batches - before.batches, transactions: transactions - before.transactions }).toEqual({ batches: 1, transactions: 0 });
    expect(await statuses(rollout.id)).toEqual({ lost: 5 });
    expect(await events('one')).toMatchObject([{ count: 5, byCohort: { c1: 5 }, stillLost: 5 }]);
    expect(await tally(rollout.id)).toMatchObject({ pending: 0, last_announced_at: clock.now() });
    // Within the announcement interval: tallied, not announced.
    await openMessages(rollout.id, 'more', 3);
    clock.advance(1_500);
    await apps[1]!.services.lost.markDueMany([rollout], clock.now());
    expect(await statuses(rollout.id)).toEqual({ lost: 8 });
    expect(await events('one')).toHaveLength(1);
    expect(await tally(rollout.id)).toMatchObject({ pending: 3, by_cohort: '{"c1":3}' });
  }, 30_000);

  it('writes nothing when a due message was settled between the read and the batch; the next pass marks the rest', async () => {
    const rollout = await withOpen('settled', 4);
    clock.advance(1_500);
    const opened = databases[2]!;
    const racing: Database = {
      ...opened,
      writeBatch: async (statements) => {
        // A late terminal report for one of the due messages commits first.
        await sql("UPDATE messages SET status = 'processed' WHERE rollout_id = ? AND message_id = (SELECT min(message_id) FROM messages WHERE rollout_id = ?)", [rollout.id, rollout.id]);
        return opened.writeBatch(statements);
      },
    };
    const app = createApp({ database: racing, clock, logger: silentLogger });
    await app.services.lost.markDueMany([rollout], clock.now());
    expect(await statuses(rollout.id)).toEqual({ open: 3, processed: 1 });
    expect(await tally(rollout.id)).toBeUndefined();
    expect(await events('settled')).toEqual([]);
    await apps[2]!.services.lost.markDueMany([rollout], clock.now());
    expect(await statuses(rollout.id)).toEqual({ lost: 3, processed: 1 });
    expect(await events('settled')).toMatchObject([{ count: 3, stillLost: 3 }]);
  }, 30_000);

  it('three servers marking the same messages at once mark, tally and announce them once', async () => {
    const rollout = await withOpen('race', 6);
    clock.advance(1_500);
    await Promise.all(apps.map((app) => app.services.lost.markDueMany([rollout], clock.now())));
    expect(await statuses(rollout.id)).toEqual({ lost: 6 });
    expect(await events('race')).toMatchObject([{ count: 6, byCohort: { c1: 6 }, stillLost: 6 }]);
    expect(await tally(rollout.id)).toMatchObject({ pending: 0 });
  }, 30_000);
});
