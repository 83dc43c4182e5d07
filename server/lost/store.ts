/**
 * The ledger's lost side: marking due open messages lost, listing them,
 * replay leases, and the tally of losses not yet announced. Every write
 * names its rollout and the rows it means.
 */
import type { InStatement, InValue } from '@libsql/client';
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db, Executor, Transaction } from '../db/database.ts';
import { among } from '../db/json-args.ts';
import { ledgerTotals, lostAnnouncements, messages } from '../db/schema.ts';

export type Tally = typeof lostAnnouncements.$inferSelect;

/**
 * Marks open messages received at or before `dueBefore` as lost, oldest
 * first, at most `limit` (the partial index on open rows keeps this cheap).
 * Returns which it marked.
 */
export async function markLost(tx: Transaction, rolloutId: number, dueBefore: number, limit: number): Promise<{ messageId: string; cohort: string }[]> {
  return tx
    .update(messages)
    .set({ status: 'lost' })
    .where(
      sql`rowid IN (SELECT rowid FROM ${messages} WHERE ${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'open' AND ${messages.receivedAt} <= ${dueBefore} ORDER BY ${messages.receivedAt} LIMIT ${limit})`,
    )
    .returning({ messageId: messages.messageId, cohort: messages.cohort });
}

/** The open messages `markLost` would mark, read without marking them (for a batch: mark-batch.ts). */
export async function dueOpen(ex: Executor, rolloutId: number, dueBefore: number, limit: number): Promise<{ messageId: string; cohort: string }[]> {
  return ex
    .select({ messageId: messages.messageId, cohort: messages.cohort })
    .from(messages)
    .where(sql`${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'open' AND ${messages.receivedAt} <= ${dueBefore}`)
    .orderBy(messages.receivedAt)
    .limit(limit);
}

const statementOf = (query: { toSQL(): { sql: string; params: unknown[] } }): InStatement => {
  const { sql: text, params } = query.toSQL();
  return { sql: text, args: params as InValue[] };
};

/** Marks these messages lost, those still open: a statement for a batch (the ids go as one JSON argument). */
export function markListedLost(db: Db, rolloutId: number, messageIds: string[]): InStatement {
  return statementOf(
    db
      .update(messages)
      .set({ status: 'lost' })
      .where(sql`${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'open' AND ${messages.messageId} IN ${among(messageIds)}`),
  );
}

/**
 * Writes `next` over the tally read as `read` (undefined: there was none), for a batch: changing only
 * the row as it was read (every change to a tally moves its pending count or its last announcement),
 * so a statement after it can tell with `changes() = 1` whether another server wrote it meanwhile.
 */
export function tallyStatement(db: Db, read: Tally | undefined, next: Tally): InStatement {
  if (read === undefined) return statementOf(db.insert(lostAnnouncements).values(next).onConflictDoNothing());
  const { rolloutId, ...values } = next;
  const announced = read.lastAnnouncedAt === null ? isNull(lostAnnouncements.lastAnnouncedAt) : eq(lostAnnouncements.lastAnnouncedAt, read.lastAnnouncedAt);
  return statementOf(db.update(lostAnnouncements).set(values).where(and(eq(lostAnnouncements.rolloutId, rolloutId), eq(lostAnnouncements.pending, read.pending), announced)));
}

/** How many of the rollout's messages are lost and not yet replayed: the triggers' totals, a row per cohort, not a count of the lost rows. */
export async function countStillLost(ex: Executor, rolloutId: number): Promise<number> {
  const [row] = await ex.select({ n: sql<number>`sum(${ledgerTotals.n})` }).from(ledgerTotals).where(and(eq(ledgerTotals.rolloutId, rolloutId), eq(ledgerTotals.status, 'lost')));
  return Number(row?.n ?? 0);
}

/** The oldest open message's receipt per rollout, for those that have one: a tick's "is anything due?" in one read. */
export async function oldestOpen(ex: Executor): Promise<Map<number, number>> {
  const rows = await ex
    .select({ rolloutId: messages.rolloutId, oldest: sql<number>`min(${messages.receivedAt})` })
    .from(messages)
    .where(eq(messages.status, 'open'))
    .groupBy(messages.rolloutId);
  return new Map(rows.filter((r) => r.oldest !== null).map((r) => [r.rolloutId, Number(r.oldest)]));
}

/** Rollouts with lost messages tallied and not yet announced. */
export async function pendingTallies(ex: Executor): Promise<Set<number>> {
  const rows = await ex.select({ rolloutId: lostAnnouncements.rolloutId }).from(lostAnnouncements).where(sql`${lostAnnouncements.pending} > 0`);
  return new Set(rows.map((r) => r.rolloutId));
}

export type LedgerStatus = 'lost' | 'replayed' | 'late';

/** Ledger rows in the given statuses, oldest first, after the (receivedAt, messageId) cursor. */
export async function listLedger(
  ex: Executor,
  query: { rolloutId: number; statuses: LedgerStatus[]; cohort?: string | undefined; after?: { receivedAt: number; messageId: string } | undefined; limit: number },
) {
  return ex
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.rolloutId, query.rolloutId),
        inArray(messages.status, query.statuses),
        query.cohort === undefined ? undefined : eq(messages.cohort, query.cohort),
        query.after === undefined
          ? undefined
          : sql`(${messages.receivedAt} > ${query.after.receivedAt} OR (${messages.receivedAt} = ${query.after.receivedAt} AND ${messages.messageId} > ${query.after.messageId}))`,
      ),
    )
    .orderBy(messages.receivedAt, messages.messageId)
    .limit(query.limit);
}

/**
 * Leases up to `limit` lost messages of one rollout whose lease is free or
 * expired to `owner` until `until`, oldest first. Two instances never hold one
 * message at once; an expired lease is claimed again.
 */
export async function claimLost(tx: Transaction, rolloutId: number, owner: string, now: number, until: number, limit: number) {
  return tx
    .update(messages)
    .set({ leaseOwner: owner, leaseUntil: until, replayAttempts: sql`${messages.replayAttempts} + 1` })
    .where(
      sql`rowid IN (SELECT rowid FROM ${messages} WHERE ${messages.rolloutId} = ${rolloutId} AND ${messages.status} = 'lost'
          AND (${messages.leaseUntil} IS NULL OR ${messages.leaseUntil} <= ${now}) ORDER BY ${messages.receivedAt} LIMIT ${limit})`,
    )
    .returning({ messageId: messages.messageId, partnerId: messages.partnerId, cohort: messages.cohort, receivedAt: messages.receivedAt, attempt: messages.replayAttempts });
}

/** The holder of the lease says the message was replayed: it leaves the lost list. */
export async function markReplayed(tx: Transaction, rolloutId: number, messageId: string, owner: string, now: number): Promise<boolean> {
  const result = await tx
    .update(messages)
    .set({ status: 'replayed', settledAt: now, leaseOwner: null, leaseUntil: null })
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.messageId, messageId), eq(messages.status, 'lost'), eq(messages.leaseOwner, owner)));
  return result.rowsAffected === 1;
}

/** The holder of the lease failed to replay: the message stays lost, free again at `retryAt`. */
export async function releaseLease(tx: Transaction, rolloutId: number, messageId: string, owner: string, retryAt: number, error: string | null): Promise<boolean> {
  const result = await tx
    .update(messages)
    .set({ leaseUntil: retryAt, error })
    .where(and(eq(messages.rolloutId, rolloutId), eq(messages.messageId, messageId), eq(messages.status, 'lost'), eq(messages.leaseOwner, owner)));
  return result.rowsAffected === 1;
}

/** The newest lost, late and replayed messages: one index-ordered query per status. */
export async function recentLedger(db: Executor, rolloutId: number, limit: number) {
  const per = await Promise.all(
    (['lost', 'late', 'replayed'] as const).map((status) =>
      db
        .select({ messageId: messages.messageId, partnerId: messages.partnerId, cohort: messages.cohort, path: messages.path, status: messages.status, receivedAt: messages.receivedAt, replayAttempts: messages.replayAttempts })
        .from(messages)
        .where(and(eq(messages.rolloutId, rolloutId), eq(messages.status, status)))
        .orderBy(desc(messages.receivedAt))
        .limit(limit),
    ),
  );
  return per
    .flat()
    .sort((a, b) => (b.receivedAt ?? 0) - (a.receivedAt ?? 0))
    .slice(0, limit);
}

/** The losses of one rollout found and not yet announced. */
export async function readTally(ex: Executor, rolloutId: number): Promise<Tally | undefined> {
  return (await ex.select().from(lostAnnouncements).where(eq(lostAnnouncements.rolloutId, rolloutId)))[0];
}

export async function saveTally(tx: Transaction, tally: Tally): Promise<void> {
  await tx
    .insert(lostAnnouncements)
    .values(tally)
    .onConflictDoUpdate({ target: lostAnnouncements.rolloutId, set: { pending: tally.pending, byCohort: tally.byCohort, sample: tally.sample, since: tally.since } });
}

/** The tally was announced: it starts again from nothing. */
export async function clearTally(tx: Transaction, rolloutId: number, now: number): Promise<void> {
  await tx.update(lostAnnouncements).set({ pending: 0, byCohort: {}, sample: [], since: null, lastAnnouncedAt: now }).where(eq(lostAnnouncements.rolloutId, rolloutId));
}
