/**
 * The outbox. `enqueueEvent` runs inside the transaction of the decision it
 * announces: the event and one delivery per matching subscription commit
 * with the decision or not at all, so a server killed right after deciding
 * still delivers once it (or another server) is back.
 */
import type { InStatement, InValue } from '@libsql/client';
import { and, eq, isNull, or } from 'drizzle-orm';
import type { Db, Transaction } from '../db/database.ts';
import { callbackDeliveries, callbackMessages, callbacks } from '../db/schema.ts';
import { randomBase62 } from '../keys/key-format.ts';
import type { RolloutChange } from '../rollouts/model.ts';
import { eventData, isCallbackEvent, messageBody, type CallbackEvent, type CallbackMessage } from './events.ts';

export const newId = (prefix: string) => `${prefix}_${randomBase62(24)}`;

/** Writes the event and its deliveries; returns the message id (the `webhook-id`). */
export async function enqueueEvent(tx: Transaction, message: CallbackMessage): Promise<string> {
  const id = newId('msg');
  const inserts = eventInserts(tx, id, message, await subscribersOf(tx, message.data.rollout));
  for (const insert of inserts) await insert;
  return id;
}

/** The enabled subscriptions to one rollout's events (or to every rollout's). */
function subscribersOf(ex: Db, rolloutKey: string) {
  return ex
    .select({ id: callbacks.id, events: callbacks.events })
    .from(callbacks)
    .where(and(eq(callbacks.status, 'enabled'), or(isNull(callbacks.rolloutKey), eq(callbacks.rolloutKey, rolloutKey))));
}

/** A query not yet run: awaited, it runs; `toSQL()` gives it to a batch. */
type Pending = PromiseLike<unknown> & { toSQL(): { sql: string; params: unknown[] } };

/** The message and its deliveries to the subscriptions that take its type, as statements not yet run. */
function eventInserts(ex: Db, id: string, message: CallbackMessage, subscribers: { id: string; events: string[] | null }[]): Pending[] {
  const matching = subscribers.filter((s) => s.events === null || s.events.includes(message.type));
  const inserts: Pending[] = [ex.insert(callbackMessages).values({ id, type: message.type, rolloutKey: message.data.rollout, body: messageBody(message), createdAt: message.at })];
  if (matching.length > 0) {
    inserts.push(
      ex.insert(callbackDeliveries).values(
        matching.map((s) => ({ id: newId('dlv'), messageId: id, callbackId: s.id, status: 'pending' as const, mode: 'schedule' as const, nextAttemptAt: message.at, createdAt: message.at })),
      ),
    );
  }
  return inserts;
}

/** The rollout service's announcer: a decision that callbacks carry becomes an event in the outbox. */
export async function announceChange(tx: Transaction, change: RolloutChange): Promise<void> {
  if (isCallbackEvent(change.type)) await enqueueEvent(tx, { type: change.type, at: change.at, data: eventData(change.rollout, change) });
}

/**
 * Events for a decision sent as one batch (a libsql server): the
 * subscriptions are read first, outside the write lock, and the events
 * become statements of the decision's batch. A subscription changed in the
 * moment between counts as changed after the decision (the worker skips a
 * delivery whose subscription is no longer enabled). All of one rollout.
 */
export async function eventStatements(db: Db, messages: CallbackMessage[]): Promise<InStatement[]> {
  if (messages.length === 0) return [];
  const subscribers = await subscribersOf(db, messages[0]!.data.rollout);
  return messages.flatMap((message) =>
    eventInserts(db, newId('msg'), message, subscribers).map((insert) => {
      const { sql, params } = insert.toSQL();
      return { sql, args: params as InValue[] };
    }),
  );
}

/** The rollout service's announcer for a decision sent as one batch: `eventStatements` of the changes callbacks carry. */
export async function announceStatements(db: Db, changes: RolloutChange[]): Promise<InStatement[]> {
  const announced = changes.filter((change) => isCallbackEvent(change.type));
  return eventStatements(db, announced.map((change) => ({ type: change.type as CallbackEvent, at: change.at, data: eventData(change.rollout, change) })));
}

/** Writes one event in a transaction: the outbox, or nothing in tests that need none. */
export type Announce = (tx: Transaction, message: CallbackMessage) => Promise<unknown>;
