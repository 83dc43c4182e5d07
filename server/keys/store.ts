/** The only code that touches api_keys. Keys are never deleted: revoke and restore set `revoked_at`. */
import { and, asc, eq, isNull, lt, ne, sql } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/database.ts';
import { apiKeys } from '../db/schema.ts';
import type { KeyKind } from './key-format.ts';

export type KeyRow = typeof apiKeys.$inferSelect;

export async function insertKey(tx: Transaction, row: KeyRow): Promise<void> {
  await tx.insert(apiKeys).values(row);
}

export async function findKeyByHash(ex: Executor, hash: string): Promise<KeyRow | undefined> {
  const rows = await ex.select().from(apiKeys).where(eq(apiKeys.hash, hash)).limit(1);
  return rows[0];
}

export async function findKey(ex: Executor, id: string): Promise<KeyRow | undefined> {
  const rows = await ex.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  return rows[0];
}

export async function listKeys(ex: Executor, page: { after?: string | undefined; limit: number }): Promise<KeyRow[]> {
  return ex
    .select()
    .from(apiKeys)
    .where(page.after === undefined ? undefined : sql`${apiKeys.id} > ${page.after}`)
    .orderBy(asc(apiKeys.id))
    .limit(page.limit);
}

export async function countActiveKeys(ex: Executor, kind: KeyKind): Promise<number> {
  const [row] = await ex
    .select({ count: sql<number>`count(*)` })
    .from(apiKeys)
    .where(and(eq(apiKeys.kind, kind), isNull(apiKeys.revokedAt)));
  return row?.count ?? 0;
}

export async function setRevoked(tx: Transaction, id: string, at: number, by: string): Promise<void> {
  await tx.update(apiKeys).set({ revokedAt: at, revokedBy: by }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
}

export async function setRestored(tx: Transaction, id: string): Promise<void> {
  await tx.update(apiKeys).set({ revokedAt: null, revokedBy: null }).where(eq(apiKeys.id, id));
}

/** Records when a key was last used; never moves the time backwards. */
export async function touchLastUsed(tx: Transaction, id: string, at: number): Promise<void> {
  await tx
    .update(apiKeys)
    .set({ lastUsedAt: at })
    .where(and(eq(apiKeys.id, id), sql`coalesce(${apiKeys.lastUsedAt}, 0) < ${at}`));
}

const lastActivity = sql`coalesce(${apiKeys.lastUsedAt}, ${apiKeys.createdAt})`;

/** Active keys with no use since `cutoff` (never used: created before it), oldest first. */
export async function listUnusedKeys(ex: Executor, query: { cutoff: number; exceptId: string; limit: number }): Promise<KeyRow[]> {
  return ex
    .select()
    .from(apiKeys)
    .where(and(isNull(apiKeys.revokedAt), ne(apiKeys.id, query.exceptId), lt(lastActivity, query.cutoff)))
    .orderBy(asc(lastActivity), asc(apiKeys.id))
    .limit(query.limit);
}

/**
 * Revokes the key `id` only if it is still active and still unused since
 * `cutoff` (a key used between the listing and this write keeps working).
 */
export async function revokeUnusedKey(tx: Transaction, id: string, cutoff: number, at: number, by: string): Promise<boolean> {
  const result = await tx
    .update(apiKeys)
    .set({ revokedAt: at, revokedBy: by })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt), lt(lastActivity, cutoff)));
  return result.rowsAffected === 1;
}
