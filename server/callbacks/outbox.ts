/**
 * The outbox. `enqueueEvent` runs inside the transaction of the decision it
 * announces: the event and one delivery per matching subscription commit
 * with the decision or not at all, so a server killed right after deciding
 * still delivers once it (or another server) is back.
 */
import { and, eq, isNull, or } from 'drizzle-orm';
import type { Transaction } from '../db/database.ts';
import { callbackDeliveries, callbackMessages, callbacks } from '../db/schema.ts';
import { randomBase62 } from '../keys/key-format.ts';
import type { RolloutChange } from '../rollouts/service.ts';
import { eventData, isCallbackEvent, messageBody, type CallbackMessage } from './events.ts';

export const newId = (prefix: string) => `${prefix}_${randomBase62(24)}`;

/** Writes the event and its deliveries; returns the message id (the `webhook-id`). */
export async function enqueueEvent(tx: Transaction, message: CallbackMessage): Promise<string> {
  const id = newId('msg');
  const subscribers = await tx
    .select({ id: callbacks.id, events: callbacks.events })
    .from(callbacks)
    .where(and(eq(callbacks.status, 'enabled'), or(isNull(callbacks.rolloutKey), eq(callbacks.rolloutKey, message.data.rollout))));
  const matching = subscribers.filter((s) => s.events === null || s.events.includes(message.type));
  await tx.insert(callbackMessages).values({ id, type: message.type, rolloutKey: message.data.rollout, body: messageBody(message), createdAt: message.at });
  if (matching.length > 0) {
    await tx.insert(callbackDeliveries).values(
      matching.map((s) => ({ id: newId('dlv'), messageId: id, callbackId: s.id, status: 'pending' as const, mode: 'schedule' as const, nextAttemptAt: message.at, createdAt: message.at })),
    );
  }
  return id;
}

/** The rollout service's announcer: a decision that callbacks carry becomes an event in the outbox. */
export async function announceChange(tx: Transaction, change: RolloutChange): Promise<void> {
  if (isCallbackEvent(change.type)) await enqueueEvent(tx, { type: change.type, at: change.at, data: eventData(change.rollout, change) });
}

/** Writes one event in a transaction: the outbox, or nothing in tests that need none. */
export type Announce = (tx: Transaction, message: CallbackMessage) => Promise<unknown>;
