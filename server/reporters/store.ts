/**
 * The reporters table: what ingestion records (plain SQL on the ingest
 * connection, like the rest of it) and what the controller and health read,
 * all through watch.ts. Every write names the instance, and the rollout where
 * it means one.
 */
import { and, eq, gte, isNull, lt, sql } from 'drizzle-orm';
import type { Executor, SqlTransaction, Transaction } from '../db/database.ts';
import { among } from '../db/json-args.ts';
import { reporters } from '../db/schema.ts';

export type ReporterRow = typeof reporters.$inferSelect;

/** One instance's reports within a committed group. */
export interface Heard {
  instanceId: string;
  /** Server time; only ever raises the stored one. */
  watermark: number;
  /** Its last batch in the group was `final`. */
  final: boolean;
  /** Rollouts its batches named. */
  rolloutIds: Set<number>;
}

/**
 * Raises the watermark and last-seen of every row of the instance (a
 * heartbeat names no rollout), then adds or refreshes the rows of the
 * rollouts it named. Reporting again brings a gone reporter back; a final
 * batch marks it left, any other batch clears that.
 */
export async function recordHeard(runner: SqlTransaction, heard: Heard, now: number): Promise<void> {
  const leftAt = heard.final ? now : null;
  await runner.execute({
    sql: 'UPDATE reporters SET watermark = max(watermark, ?), last_seen = ?, left_at = ?, gone_at = NULL WHERE instance_id = ?',
    args: [heard.watermark, now, leftAt, heard.instanceId],
  });
  for (const rolloutId of heard.rolloutIds) {
    await runner.execute({
      sql: `INSERT INTO reporters (rollout_id, instance_id, watermark, last_seen, last_event_at, left_at, gone_at) VALUES (?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT (rollout_id, instance_id) DO UPDATE SET last_event_at = excluded.last_event_at`,
      args: [rolloutId, heard.instanceId, heard.watermark, now, now, leftAt],
    });
  }
}

/**
 * `recordHeard` for every instance of a group; on a libsql server
 * (`rowsAsJson`) as two statements whatever their number, the instances
 * sent as one JSON parameter.
 */
export async function recordHeardAll(runner: SqlTransaction, heard: Heard[], now: number): Promise<void> {
  if (runner.rowsAsJson !== true) {
    for (const reporter of heard) await recordHeard(runner, reporter, now);
    return;
  }
  if (heard.length === 0) return;
  const leftAt = (h: Heard) => (h.final ? now : null);
  await runner.execute({
    sql: `UPDATE reporters SET watermark = max(reporters.watermark, h.value->>1), last_seen = ?, left_at = h.value->>2, gone_at = NULL
          FROM json_each(?) AS h WHERE reporters.instance_id = h.value->>0`,
    args: [now, JSON.stringify(heard.map((h) => [h.instanceId, h.watermark, leftAt(h)]))],
  });
  const named = heard.flatMap((h) => [...h.rolloutIds].map((rolloutId) => [rolloutId, h.instanceId, h.watermark, leftAt(h)]));
  if (named.length === 0) return;
  await runner.execute({
    sql: `INSERT INTO reporters (rollout_id, instance_id, watermark, last_seen, last_event_at, left_at, gone_at)
          SELECT value->>0, value->>1, value->>2, ?, ?, value->>3, NULL FROM json_each(?) WHERE true
          ON CONFLICT (rollout_id, instance_id) DO UPDATE SET last_event_at = excluded.last_event_at`,
    args: [now, now, JSON.stringify(named)],
  });
}

/** Reporters of the rollout with an event since `since` that have not left: live ones, and those declared gone. */
export async function reportersOf(ex: Executor, rolloutId: number, since: number): Promise<ReporterRow[]> {
  return ex
    .select()
    .from(reporters)
    .where(and(eq(reporters.rolloutId, rolloutId), gte(reporters.lastEventAt, since), isNull(reporters.leftAt)));
}

/** Reporters of several rollouts heard from since `since` (the caller narrows each to its own window), not left. */
export async function reportersOfMany(ex: Executor, rolloutIds: number[], since: number): Promise<ReporterRow[]> {
  if (rolloutIds.length === 0) return [];
  return ex
    .select()
    .from(reporters)
    .where(and(sql`${reporters.rolloutId} IN ${among(rolloutIds)}`, gte(reporters.lastEventAt, since), isNull(reporters.leftAt)));
}

/**
 * Declares one reporter gone, compare-and-set: true only for the call that
 * did it, so with several servers on one database one of them announces it.
 */
export async function declareGone(tx: Transaction, rolloutId: number, instanceId: string, silentSince: number, now: number): Promise<boolean> {
  const result = await tx
    .update(reporters)
    .set({ goneAt: now })
    .where(and(eq(reporters.rolloutId, rolloutId), eq(reporters.instanceId, instanceId), isNull(reporters.goneAt), isNull(reporters.leftAt), lt(reporters.lastSeen, silentSince)));
  return result.rowsAffected === 1;
}

/** Rows of reporters last seen before `before` (at most `limit`): kept no longer than the longest window. */
export async function deleteStaleReporters(tx: Transaction, before: number, limit: number): Promise<number> {
  const result = await tx.delete(reporters).where(sql`rowid IN (SELECT rowid FROM ${reporters} WHERE ${reporters.lastSeen} < ${before} LIMIT ${limit})`);
  return result.rowsAffected;
}
