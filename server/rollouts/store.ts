/**
 * The only code that writes the rollouts, cohorts and pins tables; every
 * write names its rows. Others read them too: ingestion and replay resolve
 * keys to ids (db/rollout-ids.ts), retention and the metrics read the rollouts;
 * the SDK snapshot reads through snapshot-read.ts.
 */
import { and, asc, eq, gt, inArray, or, sql, type GetColumnData, type SQL } from 'drizzle-orm';
import type { Path } from '@rollcall/protocol';
import type { Executor, Transaction } from '../db/database.ts';
import { among, rowsOf } from '../db/json-args.ts';
import { cohorts, pins, rollouts, rolloutsRevision } from '../db/schema.ts';
import { VersionConflict } from '../errors.ts';
import type { Cohort, Pin, Rollout, RolloutAggregate } from './model.ts';
import type { NewCohort } from './lifecycle.ts';

type CohortRow = typeof cohorts.$inferSelect;

/**
 * Every field of a Cohort and its column: the controller's JSON read returns
 * each cohort as an object keyed by these names, whatever the columns' order
 * (a field missing here, or one Cohort lacks, does not compile).
 */
const COHORT_COLUMNS = {
  name: cohorts.name,
  step: cohorts.step,
  fromBp: cohorts.fromBp,
  toBp: cohorts.toBp,
  status: cohorts.status,
  createdAt: cohorts.createdAt,
  activeSince: cohorts.activeSince,
  revertedAt: cohorts.revertedAt,
  revertKind: cohorts.revertKind,
  revertedBy: cohorts.revertedBy,
  revertReason: cohorts.revertReason,
} satisfies Record<keyof Cohort, unknown>;
/** A cohort as that read returns it: the columns' types, which must make a Cohort (see cohortsOf). */
type CohortJson = { [K in keyof typeof COHORT_COLUMNS]: GetColumnData<(typeof COHORT_COLUMNS)[K]> };
const COHORT_OBJECT = sql.raw(`json_object(${Object.entries(COHORT_COLUMNS).map(([field, column]) => `'${field}', ${column.name}`).join(', ')})`);

function toCohort(row: CohortRow): Cohort {
  const { id: _id, rolloutId: _rolloutId, ...cohort } = row;
  return cohort;
}

export async function findRollout(ex: Executor, key: string): Promise<Rollout | undefined> {
  const rows = await ex.select().from(rollouts).where(eq(rollouts.key, key)).limit(1);
  return rows[0];
}

export async function loadAggregate(ex: Executor, key: string): Promise<RolloutAggregate | undefined> {
  const rollout = await findRollout(ex, key);
  if (rollout === undefined) return undefined;
  const [cohortRows, pinRows] = await Promise.all([
    ex.select().from(cohorts).where(eq(cohorts.rolloutId, rollout.id)).orderBy(asc(cohorts.id)),
    ex
      .select({ partnerId: pins.partnerId, path: pins.path, createdAt: pins.createdAt, createdBy: pins.createdBy })
      .from(pins)
      .where(eq(pins.rolloutId, rollout.id))
      .orderBy(asc(pins.partnerId)),
  ]);
  return { rollout, cohorts: cohortRows.map(toCohort), pins: pinRows };
}

/** Rollouts in key order after `after`, with their cohorts; pins are counted, not loaded. */
export async function listRollouts(
  ex: Executor,
  page: { after?: string | undefined; limit: number },
): Promise<{ rollout: Rollout; cohorts: Cohort[]; pinCount: number }[]> {
  const rows = await ex
    .select()
    .from(rollouts)
    .where(page.after === undefined ? undefined : gt(rollouts.key, page.after))
    .orderBy(asc(rollouts.key))
    .limit(page.limit);
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [byRollout, pinCounts] = await Promise.all([
    cohortsOf(ex, among(ids)),
    ex
      .select({ rolloutId: pins.rolloutId, count: sql<number>`count(*)` })
      .from(pins)
      .where(inArray(pins.rolloutId, ids))
      .groupBy(pins.rolloutId),
  ]);
  const pinCountOf = new Map(pinCounts.map((p) => [p.rolloutId, Number(p.count)]));
  return rows.map((rollout) => ({ rollout, cohorts: byRollout.get(rollout.id) ?? [], pinCount: pinCountOf.get(rollout.id) ?? 0 }));
}

/** What a scrape needs of every rollout, in key order: no cohorts, no guards. */
export function rolloutHeads(ex: Executor) {
  return ex.select({ id: rollouts.id, key: rollouts.key, version: rollouts.version, state: rollouts.state, plan: rollouts.plan, step: rollouts.step }).from(rollouts).orderBy(asc(rollouts.key));
}

/** A row of `cohortsOf`'s read: one rollout's cohorts as a JSON array of `CohortJson`. */
interface CohortsRow {
  rolloutId: number;
  cohorts: string;
}

/**
 * The cohorts of the rollouts `ids` selects, in id order, by rollout. They come as one JSON array per
 * rollout: the client builds an object per cell it returns, which for ten thousand cohorts cost a
 * controller pass some 400 ms; one text per rollout is parsed natively, into objects keyed by field.
 */
async function cohortsOf(ex: Executor, ids: SQL): Promise<Map<number, Cohort[]>> {
  const rows = await ex.all<CohortsRow>(sql`
    SELECT rollout_id AS rolloutId, json_group_array(${COHORT_OBJECT}) AS cohorts
    FROM (SELECT * FROM ${cohorts} WHERE ${cohorts.rolloutId} IN ${ids} ORDER BY ${cohorts.id}) GROUP BY rollout_id`);
  const byRollout = new Map<number, Cohort[]>();
  for (const row of rows) {
    const parsed: Cohort[] = JSON.parse(row.cohorts) as CohortJson[];
    byRollout.set(Number(row.rolloutId), parsed);
  }
  return byRollout;
}

/**
 * Every rollout with its cohorts and pins, for the SDK snapshot: the three
 * reads go as one batch, which runs as one transaction, so they see one state
 * of the database. Read separately, a revert committed between them gave the
 * new rollout version with the old cohorts: a snapshot no state ever had.
 */
export async function loadAllAggregates(ex: Executor): Promise<RolloutAggregate[]> {
  const [rolloutRows, cohortRows, pinRows] = await ex.batch([
    ex.select().from(rollouts).orderBy(asc(rollouts.key)),
    ex.select().from(cohorts).orderBy(asc(cohorts.id)),
    ex.select().from(pins).orderBy(asc(pins.partnerId)),
  ]);
  const byRollout = new Map<number, RolloutAggregate>(rolloutRows.map((rollout) => [rollout.id, { rollout, cohorts: [], pins: [] }]));
  for (const row of cohortRows) byRollout.get(row.rolloutId)?.cohorts.push(toCohort(row));
  for (const { rolloutId, partnerId, path, createdAt, createdBy } of pinRows) byRollout.get(rolloutId)?.pins.push({ partnerId, path, createdAt, createdBy });
  return [...byRollout.values()];
}

/** How many rollouts there are and the sum of their versions: what the SDK snapshot probes before it reads them all. */
export async function versionTotals(ex: Executor): Promise<{ count: number; versions: number }> {
  const [row] = await ex.select({ count: sql<number>`count(*)`, versions: sql<number>`coalesce(sum(${rollouts.version}), 0)` }).from(rollouts);
  return { count: row?.count ?? 0, versions: row?.versions ?? 0 };
}

export async function insertRollout(tx: Transaction, values: Omit<Rollout, 'id'>): Promise<Rollout> {
  const [row] = await tx.insert(rollouts).values(values).returning();
  return row!;
}

/**
 * Compare-and-set: updates the one rollout `id` only while it is still at
 * `expectedVersion`, and bumps the version. Throws a VersionConflict when someone else won.
 */
export async function updateRollout(
  tx: Transaction,
  id: number,
  expectedVersion: number,
  changes: Partial<Omit<Rollout, 'id' | 'key' | 'version' | 'createdAt'>>,
): Promise<void> {
  const result = await rolloutUpdate(tx, id, expectedVersion, changes);
  if (result.rowsAffected !== 1) {
    throw new VersionConflict(`the rollout changed while this request ran (it is no longer at version ${expectedVersion}); read it again`);
  }
}

/** The compare-and-set as a statement not yet run (a batch checks that it changed one row). */
export function rolloutUpdate(ex: Executor, id: number, expectedVersion: number, changes: Partial<Omit<Rollout, 'id' | 'key' | 'version' | 'createdAt'>>) {
  return ex
    .update(rollouts)
    .set({ ...changes, version: expectedVersion + 1 })
    .where(and(eq(rollouts.id, id), eq(rollouts.version, expectedVersion)));
}

export async function insertCohort(tx: Transaction, rolloutId: number, cohort: NewCohort, now: number): Promise<void> {
  await tx.insert(cohorts).values({ rolloutId, ...cohort, status: 'active', createdAt: now, activeSince: now });
}

export type CohortRevert = { at: number; kind: 'manual' | 'breach'; by: string; reason: string | null };

export async function revertCohort(tx: Transaction, rolloutId: number, name: string, revert: CohortRevert): Promise<void> {
  await cohortRevert(tx, rolloutId, name, revert);
}

/** Reverting one active cohort, as a statement not yet run. */
export function cohortRevert(ex: Executor, rolloutId: number, name: string, revert: CohortRevert) {
  return ex
    .update(cohorts)
    .set({ status: 'reverted', revertedAt: revert.at, revertKind: revert.kind, revertedBy: revert.by, revertReason: revert.reason })
    .where(and(eq(cohorts.rolloutId, rolloutId), eq(cohorts.name, name), eq(cohorts.status, 'active')));
}

export async function reactivateCohort(tx: Transaction, rolloutId: number, name: string, now: number): Promise<void> {
  await tx
    .update(cohorts)
    .set({ status: 'active', activeSince: now, revertedAt: null, revertKind: null, revertedBy: null, revertReason: null })
    .where(and(eq(cohorts.rolloutId, rolloutId), eq(cohorts.name, name), eq(cohorts.status, 'reverted')));
}

export async function countPins(ex: Executor, rolloutId: number): Promise<number> {
  const [row] = await ex.select({ count: sql<number>`count(*)` }).from(pins).where(eq(pins.rolloutId, rolloutId));
  return row?.count ?? 0;
}

export async function upsertPin(tx: Transaction, rolloutId: number, pin: { partnerId: string; path: Path; at: number; by: string }): Promise<void> {
  await tx
    .insert(pins)
    .values({ rolloutId, partnerId: pin.partnerId, path: pin.path, createdAt: pin.at, createdBy: pin.by })
    .onConflictDoUpdate({
      target: [pins.rolloutId, pins.partnerId],
      set: { path: pin.path, createdAt: pin.at, createdBy: pin.by },
    });
}

export async function deletePin(tx: Transaction, rolloutId: number, partnerId: string): Promise<void> {
  await tx.delete(pins).where(and(eq(pins.rolloutId, rolloutId), eq(pins.partnerId, partnerId)));
}

/** What makes a rollout watched by the controller at `now`: running or paused, or completed and inside its watch. */
function watchedAt(now: number, defaultWatchSeconds: number): SQL {
  return or(
    inArray(rollouts.state, ['running', 'paused']),
    and(eq(rollouts.state, 'completed'), sql`${rollouts.completedAt} + coalesce(json_extract(${rollouts.guards}, '$.watchSeconds'), ${defaultWatchSeconds}) * 1000 > ${now}`),
  )!;
}

/** How many times any rollout row was written (migration 0022's triggers): unmoved, no rollout changed. */
export async function readRevision(ex: Executor): Promise<number> {
  const [row] = await ex.select({ revision: rolloutsRevision.revision }).from(rolloutsRevision).where(eq(rolloutsRevision.id, 1));
  return row?.revision ?? 0;
}

/** The ids and versions of the rollouts the controller watches, in key order: what a pass reads before it loads any of them again. */
export async function controlledVersions(ex: Executor, now: number, defaultWatchSeconds: number): Promise<{ id: number; version: number }[]> {
  // One JSON value (json-args.ts), each row with its rank in key order (an aggregate's input order is not promised).
  const found = await ex.all<{ rows: string | null }>(sql`SELECT json_group_array(json_array(id, version, rank)) AS rows FROM (
    SELECT ${rollouts.id} AS id, ${rollouts.version} AS version, row_number() OVER (ORDER BY ${rollouts.key}) AS rank FROM ${rollouts} WHERE ${watchedAt(now, defaultWatchSeconds)})`);
  return rowsOf<[number, number, number]>(found)
    .sort((a, b) => a[2] - b[2])
    .map(([id, version]) => ({ id, version }));
}

/**
 * These rollouts with their cohorts and pins, in key order. The rollouts are read first, their cohorts
 * and pins after: a change committed in between moves the version past the one read, so an aggregate
 * kept until its version moves is never kept with cohorts older than its version (at worst, for one
 * pass, with newer ones, which any decision's compare-and-set on the older version then refuses).
 */
export async function aggregatesByIds(ex: Executor, ids: readonly number[]): Promise<RolloutAggregate[]> {
  if (ids.length === 0) return [];
  const amongIds = among(ids);
  const rows = await ex.select().from(rollouts).where(sql`${rollouts.id} IN ${amongIds}`).orderBy(asc(rollouts.key));
  const [cohortsBy, pinRows] = await Promise.all([cohortsOf(ex, amongIds), ex.select().from(pins).where(sql`${pins.rolloutId} IN ${amongIds}`).orderBy(asc(pins.partnerId))]);
  const byRollout = new Map<number, RolloutAggregate>(rows.map((rollout) => [rollout.id, { rollout, cohorts: cohortsBy.get(rollout.id) ?? [], pins: [] }]));
  for (const { rolloutId, partnerId, path, createdAt, createdBy } of pinRows) byRollout.get(rolloutId)?.pins.push({ partnerId, path, createdAt, createdBy });
  return [...byRollout.values()];
}

/** Measures every active cohort of one rollout afresh from `now` (on resume: a manual retry starts clean). At most `limit` rows. */
export async function restartCohortMeasurement(tx: Transaction, rolloutId: number, now: number, limit = 1_000): Promise<void> {
  await tx
    .update(cohorts)
    .set({ activeSince: now })
    .where(sql`${cohorts.id} IN (SELECT ${cohorts.id} FROM ${cohorts} WHERE ${cohorts.rolloutId} = ${rolloutId} AND ${cohorts.status} = 'active' LIMIT ${limit})`);
}
