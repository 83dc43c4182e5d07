/**
 * Marking due messages lost as one batch, for a libsql server. There the
 * interactive transaction (mark, read the tally, write it, maybe announce)
 * is a round trip per statement made while holding the database's write
 * lock, which every server's report batches wait behind. Here the due ids
 * and the tally are read first, outside the lock; the marks, the tally and,
 * when the interval allows, the `messages.lost` event go as one batch. Two
 * guards fail the batch, writing nothing, when a due message was settled in
 * the moment between (a late terminal report) or another server wrote the
 * tally: the next pass reads again. The embedded file keeps the transaction
 * (service.ts), where a statement costs microseconds.
 *
 * The marks cannot share the breach decision's batch: the decision is made
 * on figures that count them, which the pass measures after marking.
 */
import type { InStatement } from '@libsql/client';
import type { CallbackMessage } from '../callbacks/events.ts';
import { failedGuard, failUnless } from '../db/batch-guard.ts';
import type { Database } from '../db/database.ts';
import type { Rollout } from '../rollouts/model.ts';
import { announcement, cleared, tallied, type LostAnnouncer, type LostMessage } from './announcer.ts';
import * as store from './store.ts';

/** Statements writing events to the outbox (callbacks/outbox.ts `eventStatements`). */
export type EventStatements = (messages: CallbackMessage[]) => Promise<InStatement[]>;

const SETTLED = 'a due message was settled meanwhile';
const TALLIED = 'the loss tally moved';

/** Marks the rollout's messages due by `dueBefore` lost (at most `limit`) in one batch; returns those marked (none when a guard failed). */
export async function markLostInBatch(
  deps: { database: Database; announcer?: LostAnnouncer | undefined; events?: EventStatements | undefined },
  rollout: Rollout,
  dueBefore: number,
  now: number,
  limit: number,
): Promise<LostMessage[]> {
  const { database, announcer } = deps;
  const { db } = database;
  const due = await store.dueOpen(db, rollout.id, dueBefore, limit);
  if (due.length === 0) return [];
  const statements: InStatement[] = [
    store.markListedLost(db, rollout.id, due.map((m) => m.messageId)),
    failUnless('changes() = ?', [due.length], SETTLED),
  ];
  if (announcer !== undefined) {
    const read = await store.readTally(db, rollout.id);
    let tally = tallied(rollout.id, read, due, now);
    if (announcer.isDue(tally, now)) {
      // Still lost after this batch: those lost before it, and these.
      const stillLost = (await store.countStillLost(db, rollout.id)) + due.length;
      statements.push(...((await deps.events?.([announcement(rollout, tally, stillLost, now)])) ?? []));
      tally = cleared(tally, now);
    }
    statements.push(store.tallyStatement(db, read, tally), failUnless('changes() = 1', [], TALLIED));
  }
  try {
    await database.writeBatch(statements);
  } catch (error) {
    if (failedGuard(error, SETTLED) || failedGuard(error, TALLIED)) return [];
    throw error;
  }
  return due;
}
