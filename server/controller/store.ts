/** The controller's lease row (db/schema.ts `controllerLease`): every write names the one row and its holder. */
import type { InStatement, InValue } from '@libsql/client';
import { and, eq, lte, or, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/database.ts';
import { controllerLease } from '../db/schema.ts';

const ROW = 1;

/** Who holds the lease and until when (undefined: nobody ever took it). */
export async function readLease(ex: Executor): Promise<{ holder: string; until: number } | undefined> {
  return (await ex.select({ holder: controllerLease.holder, until: controllerLease.until }).from(controllerLease).where(eq(controllerLease.id, ROW)))[0];
}

const statementOf = (query: { toSQL(): { sql: string; params: unknown[] } }): InStatement => {
  const { sql: text, params } = query.toSQL();
  return { sql: text, args: params as InValue[] };
};

/**
 * Takes the lease for `holder` until `until`, or extends it, in one statement:
 * only when nobody holds it, it is `holder`'s already, or it ran out by `now`.
 * True when `holder` has it now. Sent as a batch of one: on a libsql server an
 * interactive transaction would hold the write lock across round trips, and
 * under ingest load that stalled every server's report batches behind it.
 */
export async function takeLease(database: Database, holder: string, now: number, until: number): Promise<boolean> {
  const query = database.db
    .insert(controllerLease)
    .values({ id: ROW, holder, until })
    .onConflictDoUpdate({
      target: controllerLease.id,
      set: { holder: sql`excluded.holder`, until: sql`excluded.until` },
      setWhere: or(eq(controllerLease.holder, holder), lte(controllerLease.until, now)),
    })
    .returning({ holder: controllerLease.holder });
  const [result] = await database.writeBatch([statementOf(query)]);
  return result?.rows.length === 1;
}

/** Gives the lease up (a clean shutdown), when `holder` still has it. */
export async function releaseLease(database: Database, holder: string): Promise<void> {
  await database.writeBatch([statementOf(database.db.update(controllerLease).set({ until: 0 }).where(and(eq(controllerLease.id, ROW), eq(controllerLease.holder, holder))))]);
}
