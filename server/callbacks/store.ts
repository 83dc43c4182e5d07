/** Queries for subscriptions, deliveries and attempts: the only place callbacks touch drizzle. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/database.ts';
import { callbackAttempts, callbackDeliveries, callbackMessages, callbacks } from '../db/schema.ts';

export type CallbackRow = typeof callbacks.$inferSelect;
export type DeliveryRow = typeof callbackDeliveries.$inferSelect;
export type AttemptRow = typeof callbackAttempts.$inferSelect;
export type CallbackStatus = CallbackRow['status'];

export async function findCallback(ex: Executor, id: string): Promise<CallbackRow | undefined> {
  return (await ex.select().from(callbacks).where(eq(callbacks.id, id)))[0];
}

export async function insertCallback(tx: Transaction, row: CallbackRow): Promise<void> {
  await tx.insert(callbacks).values(row);
}

export async function updateCallback(tx: Transaction, id: string, changes: Partial<CallbackRow>): Promise<void> {
  await tx.update(callbacks).set(changes).where(eq(callbacks.id, id));
}

export async function listCallbacks(
  ex: Executor,
  query: { rolloutKey?: string | undefined; statuses: CallbackStatus[]; after?: string | undefined; limit: number },
): Promise<CallbackRow[]> {
  return ex
    .select()
    .from(callbacks)
    .where(
      and(
        inArray(callbacks.status, query.statuses),
        query.rolloutKey === undefined ? undefined : or(eq(callbacks.rolloutKey, query.rolloutKey), isNull(callbacks.rolloutKey)),
        query.after === undefined ? undefined : sql`${callbacks.id} > ${query.after}`,
      ),
    )
    .orderBy(asc(callbacks.id))
    .limit(query.limit);
}

/** Cancels every pending delivery of one subscription (it was disabled or deleted). */
export async function cancelPendingOfCallback(tx: Transaction, callbackId: string, now: number, why: string): Promise<number> {
  const result = await tx
    .update(callbackDeliveries)
    .set({ status: 'cancelled', nextAttemptAt: null, leaseOwner: null, leaseUntil: null, finishedAt: now, lastError: why })
    .where(and(eq(callbackDeliveries.callbackId, callbackId), eq(callbackDeliveries.status, 'pending')));
  return result.rowsAffected;
}

/** A test event for one subscription: its outbox message and a single delivery of one attempt. */
export async function insertTestEvent(tx: Transaction, message: typeof callbackMessages.$inferInsert, delivery: typeof callbackDeliveries.$inferInsert): Promise<void> {
  await tx.insert(callbackMessages).values(message);
  await tx.insert(callbackDeliveries).values(delivery);
}

export async function findDelivery(ex: Executor, id: string): Promise<DeliveryRow | undefined> {
  return (await ex.select().from(callbackDeliveries).where(eq(callbackDeliveries.id, id)))[0];
}

/** Deliveries of one subscription, newest first, with their message's type and rollout. */
export async function listDeliveries(
  ex: Executor,
  query: { callbackId: string; status?: DeliveryRow['status'] | undefined; before?: { createdAt: number; id: string } | undefined; limit: number },
) {
  return ex
    .select({ delivery: callbackDeliveries, type: callbackMessages.type, rolloutKey: callbackMessages.rolloutKey })
    .from(callbackDeliveries)
    .innerJoin(callbackMessages, eq(callbackMessages.id, callbackDeliveries.messageId))
    .where(
      and(
        eq(callbackDeliveries.callbackId, query.callbackId),
        query.status === undefined ? undefined : eq(callbackDeliveries.status, query.status),
        query.before === undefined
          ? undefined
          : sql`(${callbackDeliveries.createdAt} < ${query.before.createdAt} OR (${callbackDeliveries.createdAt} = ${query.before.createdAt} AND ${callbackDeliveries.id} < ${query.before.id}))`,
      ),
    )
    .orderBy(desc(callbackDeliveries.createdAt), desc(callbackDeliveries.id))
    .limit(query.limit);
}

export async function attemptsOf(ex: Executor, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  return ex.select().from(callbackAttempts).where(inArray(callbackAttempts.deliveryId, deliveryIds)).orderBy(asc(callbackAttempts.id));
}

/** Puts one finished delivery back in the queue for a single attempt now. */
export async function requeueOnce(tx: Transaction, id: string, now: number): Promise<void> {
  await tx
    .update(callbackDeliveries)
    .set({ status: 'pending', mode: 'once', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: null, finishedAt: null })
    .where(and(eq(callbackDeliveries.id, id), inArray(callbackDeliveries.status, ['failed', 'cancelled', 'succeeded'])));
}

/** Brings a pending delivery's next attempt forward to now. */
export async function bringForward(tx: Transaction, id: string, now: number): Promise<void> {
  await tx.update(callbackDeliveries).set({ nextAttemptAt: now }).where(and(eq(callbackDeliveries.id, id), eq(callbackDeliveries.status, 'pending')));
}

/**
 * Failed deliveries of one subscription that finished at or after `since`,
 * oldest message first, at most `limit` of them.
 */
export async function failedSince(ex: Executor, callbackId: string, since: number, limit: number): Promise<DeliveryRow[]> {
  return ex
    .select()
    .from(callbackDeliveries)
    .where(and(eq(callbackDeliveries.callbackId, callbackId), eq(callbackDeliveries.status, 'failed'), gte(callbackDeliveries.finishedAt, since)))
    .orderBy(asc(callbackDeliveries.createdAt), asc(callbackDeliveries.id))
    .limit(limit);
}

// --- the delivery worker's queries ---

/** True when some delivery is due and not leased (a read, before any write). */
export async function hasDue(ex: Executor, now: number): Promise<boolean> {
  const rows = await ex
    .select({ one: sql<number>`1` })
    .from(callbackDeliveries)
    .where(and(eq(callbackDeliveries.status, 'pending'), lte(callbackDeliveries.nextAttemptAt, now), or(isNull(callbackDeliveries.leaseUntil), lte(callbackDeliveries.leaseUntil, now))))
    .limit(1);
  return rows.length > 0;
}

/**
 * Leases up to `limit` due deliveries to `owner` until `leaseUntil`, oldest
 * due first. Runs in a write transaction, so two servers never lease the
 * same delivery at once.
 */
export async function leaseDue(tx: Transaction, owner: string, now: number, leaseUntil: number, limit: number, attemptMs: number): Promise<string[]> {
  // A lease taken within the last attempt deadline may still be in flight; an older one belongs to a server that died.
  const inFlightUntil = leaseUntil - now - attemptMs;
  const rows = await tx
    .update(callbackDeliveries)
    .set({ leaseOwner: owner, leaseUntil })
    .where(
      // Written order is rowid order (one decision writes guard.breached before cohort.reverted); a delivery
      // waits while an earlier one to the same subscription is in flight, so it cannot overtake it (but not
      // behind the lease of a server that died mid-attempt: that waits at most one attempt deadline).
      sql`${callbackDeliveries.id} IN (SELECT d.id FROM callback_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= ${now} AND (d.lease_until IS NULL OR d.lease_until <= ${now})
        AND NOT EXISTS (SELECT 1 FROM callback_deliveries e WHERE e.callback_id = d.callback_id AND e.status = 'pending' AND e.lease_until > ${now} + ${inFlightUntil} AND e.rowid < d.rowid)
        ORDER BY d.next_attempt_at, d.created_at, d.rowid LIMIT ${limit})`,
    )
    .returning({ id: callbackDeliveries.id });
  return rows.map((r) => r.id);
}

/** What an attempt needs: the delivery, its message, and its subscription. */
export async function loadLeased(ex: Executor, ids: string[]) {
  if (ids.length === 0) return [];
  return ex
    .select({ delivery: callbackDeliveries, message: callbackMessages, callback: callbacks })
    .from(callbackDeliveries)
    .innerJoin(callbackMessages, eq(callbackMessages.id, callbackDeliveries.messageId))
    .innerJoin(callbacks, eq(callbacks.id, callbackDeliveries.callbackId))
    .where(inArray(callbackDeliveries.id, ids))
    .orderBy(asc(callbackDeliveries.nextAttemptAt), asc(callbackDeliveries.createdAt), sql`${callbackDeliveries}.rowid`);
}

export async function insertAttempt(tx: Transaction, row: Omit<AttemptRow, 'id'>): Promise<void> {
  await tx.insert(callbackAttempts).values(row);
}

/**
 * Updates a delivery only while `owner` still holds the very lease it took
 * (`leaseUntil` tells one lease from a later one of the same owner); returns
 * whether it did.
 */
export async function settleLeased(tx: Transaction, id: string, lease: { owner: string; until: number }, changes: Partial<DeliveryRow>): Promise<boolean> {
  const result = await tx
    .update(callbackDeliveries)
    .set({ ...changes, leaseOwner: null, leaseUntil: null })
    .where(and(eq(callbackDeliveries.id, id), eq(callbackDeliveries.leaseOwner, lease.owner), eq(callbackDeliveries.leaseUntil, lease.until), eq(callbackDeliveries.status, 'pending')));
  return result.rowsAffected > 0;
}

/** Finished deliveries (succeeded, failed, cancelled) with their attempts, and messages with no delivery left, that finished before `before`. */
export async function pruneFinished(tx: Transaction, before: number, limit: number): Promise<number> {
  const old = await tx
    .select({ id: callbackDeliveries.id })
    .from(callbackDeliveries)
    .where(and(inArray(callbackDeliveries.status, ['succeeded', 'failed', 'cancelled']), lt(callbackDeliveries.finishedAt, before)))
    .limit(limit);
  const ids = old.map((r) => r.id);
  if (ids.length > 0) {
    await tx.delete(callbackAttempts).where(inArray(callbackAttempts.deliveryId, ids));
    await tx.delete(callbackDeliveries).where(inArray(callbackDeliveries.id, ids));
  }
  const orphans = await tx.run(
    sql`DELETE FROM ${callbackMessages} WHERE rowid IN (SELECT m.rowid FROM ${callbackMessages} m WHERE m.created_at < ${before} AND NOT EXISTS (SELECT 1 FROM ${callbackDeliveries} d WHERE d.message_id = m.id) LIMIT ${limit})`,
  );
  return ids.length + orphans.rowsAffected;
}

/** The subscriptions that hear of this rollout, and its newest deliveries. */
export async function recentDeliveriesOf(db: Executor, rolloutKey: string, limit: number) {
  const deliveries = await db
    .select({ id: callbackDeliveries.id, type: callbackMessages.type, at: callbackMessages.createdAt, status: callbackDeliveries.status, attempts: callbackDeliveries.attempts, lastStatus: callbackDeliveries.lastStatus, lastError: callbackDeliveries.lastError, nextAttemptAt: callbackDeliveries.nextAttemptAt, url: callbacks.url })
    .from(callbackMessages)
    .innerJoin(callbackDeliveries, eq(callbackDeliveries.messageId, callbackMessages.id))
    .innerJoin(callbacks, eq(callbacks.id, callbackDeliveries.callbackId))
    .where(eq(callbackMessages.rolloutKey, rolloutKey))
    .orderBy(desc(callbackMessages.createdAt))
    .limit(limit);
  return deliveries;
}
