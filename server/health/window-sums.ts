/**
 * The count sums of the windows a controller pass watches, kept as counts
 * are written, so that a pass over busy rollouts reads one row per cohort.
 *
 * Summing a window from the rollups (rollups.ts) reads a bounded number of
 * rows per cohort, but at a thousand busy rollouts that is still eleven
 * thousand cohorts of up to 59 seconds at each edge and a minute row for
 * each minute between: a pass where every rollout had new reports spent most
 * of its time there. A guard's window starts at a fixed moment for a whole
 * test (measure.ts `windowOf`), and only its due line moves with the clock.
 * So each watched cell (rollout, cohort, path) has a row in `count_windows`
 * holding every counter over the buckets from its `lo` on, and `due`, what
 * was received in [lo, de). Triggers on `cohort_counts` (migration 0021) add
 * every write to the rows whose window it falls in, inside the writer's own
 * transaction, whoever the writer is: ingest's upserts, retention's
 * compaction and deletes. A row is therefore always equal to sums over the
 * counts as they are, whatever runs beside the pass, on any server.
 *
 * A pass reads the rows of its cells in one statement that returns one JSON
 * value (the client builds an object per row returned, and at 11,000 rows that
 * cost more than the read). For a cell whose row stands at another due line,
 * the same statement adds (or takes off) the seconds between the two: a few
 * index entries. Rows move their due line only every ADVANCE_EVERY seconds,
 * spread over the passes by rollout id, so a pass writes a few rows rather
 * than all of them. A cell with no row, or a row for another window start (a
 * new test, a resumed step), is filled from the rollups in one statement that
 * sums and writes together, so no count lands between the sum and the row.
 * Rows of cells no pass watches any more are deleted when the watched cells
 * change: the table is bounded by what is watched.
 *
 * The results are those of `windowSumsMany` (test/server/health/window-sums.test.ts
 * drives random writes, compaction, deletes, window starts and due lines that
 * move both ways, and two passes that share the rows, and holds them equal).
 */
import { sql, type SQL } from 'drizzle-orm';
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import type { InStatement, InValue } from '@libsql/client';
import { COUNTERS } from '@rollcall/protocol';
import type { Database } from '../db/database.ts';
import { among, rowsOf } from '../db/json-args.ts';
import { cellBuckets, PART_FIELDS, WINDOW_CELL, windowArgs, windowParts, windowSumsMany, zeroSums, type CountSums, type WindowCell } from './rollups.ts';

/** A kept row moves its due line at least this often (seconds of due line), and otherwise stays. */
export const ADVANCE_EVERY = 8;

const dialect = new SQLiteSyncDialect();
const statementOf = (query: SQL): InStatement => {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return { sql: text, args: params as InValue[] };
};

const counters = (alias: string) => COUNTERS.map((c) => `${alias}.${c}`).join(', ');
/** A kept row as read: the cell's index, the row's due line, `due` at the cell's due line, then COUNTERS. */
type KeptRow = [number, number, number, ...number[]];

/** A row `w`'s due count carried to the due line of the cell `p`: plus (or minus) what was received in the seconds between. */
const DUE_AT_P = sql.raw(`w.due + (CASE WHEN p.de > w.de THEN 1 ELSE -1 END) * coalesce((SELECT sum(c.received) FROM cohort_counts AS c
  WHERE c.rollout_id = p.rid AND c.cohort = p.cohort AND c.path = p.path AND c.bucket >= min(w.de, p.de) AND c.bucket < max(w.de, p.de)), 0)`);

/** Each found cell's row, as JSON: `due` carried from the row's due line `w.de` to the cell's `p.de`. */
function readStatement(args: string): SQL {
  return sql`
    WITH p AS MATERIALIZED (SELECT key AS i, ${WINDOW_CELL.columns} FROM json_each(${args}))
    SELECT json_group_array(json_array(p.i, w.de, CASE WHEN w.de = p.de THEN w.due ELSE ${DUE_AT_P} END,
      ${sql.raw(counters('w'))})) AS rows
    FROM p JOIN count_windows AS w ON w.rollout_id = p.rid AND w.cohort = p.cohort AND w.path = p.path AND w.lo = p.lo`;
}

/** Writes the cells' rows from the rollups, summed and written in one statement (a write between would be missed). */
function fillStatement(args: string): InStatement {
  // head ->> 0 is the head's due count, head ->> k + 1 its k-th counter (PART_FIELDS); nulls where a part has no rows.
  const part = (k: number) => `coalesce(head ->> ${k}, 0) + coalesce(minutes ->> ${k}, 0)`;
  const sums = [`${part(0)} + coalesce(tail, 0)`, ...COUNTERS.map((_, k) => part(k + 1))].join(', ');
  const columns = PART_FIELDS.join(', ');
  const replace = PART_FIELDS.map((c) => `${c} = excluded.${c}`).join(', ');
  return statementOf(sql`${windowParts(args)}
    INSERT INTO count_windows (rollout_id, cohort, path, lo, de, ${sql.raw(columns)})
    SELECT rid, cohort, path, lo, de, ${sql.raw(sums)} FROM s WHERE true
    ON CONFLICT (rollout_id, cohort, path) DO UPDATE SET lo = excluded.lo, de = excluded.de, ${sql.raw(replace)}`);
}

/** A row's move: rollout, cohort, path, window start and the due line to move to. */
type Move = [number, string, string, number, number];

/**
 * Moves rows' due lines to `de`, adding (or taking off) the seconds between from where each row stands as
 * the statement runs, not where this pass read it: a row another pass moved in between stays exact.
 */
function advanceStatement(moves: Move[]): InStatement {
  return statementOf(sql`
    WITH p AS MATERIALIZED (SELECT value ->> 0 AS rid, value ->> 1 AS cohort, value ->> 2 AS path, value ->> 3 AS lo, value ->> 4 AS de FROM json_each(${JSON.stringify(moves)}))
    UPDATE count_windows AS w SET de = p.de, due = ${DUE_AT_P}
    FROM p WHERE w.rollout_id = p.rid AND w.cohort = p.cohort AND w.path = p.path AND w.lo = p.lo`);
}

/** Deletes the rows of `rollouts` that are not among their `cells`. */
function sweepStatement(rollouts: number[], cells: WindowCell[]): InStatement {
  const keys = JSON.stringify(cells.map((c) => [c.rolloutId, c.cohort, c.path]));
  return statementOf(sql`DELETE FROM count_windows WHERE rollout_id IN ${among(rollouts)}
    AND (rollout_id, cohort, path) NOT IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(${keys}))`);
}

/** Deletes the rows of every rollout not among `watched`. */
function forgetStatement(watched: number[]): InStatement {
  return statementOf(sql`DELETE FROM count_windows WHERE rollout_id NOT IN ${among(watched)}`);
}

export function createWindowSums(database: Pick<Database, 'db' | 'writeBatch'>) {
  /** Each rollout's cells when its rows were last swept, as one string: other cells sweep it again. */
  const swept = new Map<number, string>();
  /** The rollouts watched when rows of others were last deleted. */
  let watching: string | null = null;

  /** The kept sums of those cells (by index) whose row is for the same window start, with the row's due line. */
  async function read(cells: WindowCell[]): Promise<Map<number, { sums: CountSums; de: number }>> {
    const kept = rowsOf<KeptRow>(await database.db.all<{ rows: string | null }>(readStatement(windowArgs(cells))));
    const found = new Map<number, { sums: CountSums; de: number }>();
    for (const [i, de, due, ...values] of kept) {
      const sums = zeroSums();
      sums.due = Number(due);
      COUNTERS.forEach((c, k) => (sums[c] = Number(values[k])));
      found.set(Number(i), { sums, de: Number(de) });
    }
    return found;
  }

  return {
    /**
     * The count sums of every cell, in the order asked: those of `windowSumsMany`, from the kept rows.
     * `watched` lists every rollout the pass watches (`cells` may be those of some of them): rows of
     * others are deleted, as are a rollout's rows for cells it no longer has.
     */
    async sums(cells: WindowCell[], watched: number[]): Promise<CountSums[]> {
      const upkeep: InStatement[] = [];
      const watchedKey = watched.join(',');
      if (watchedKey !== watching) {
        upkeep.push(forgetStatement(watched));
        const kept = new Set(watched);
        for (const id of swept.keys()) if (!kept.has(id)) swept.delete(id);
      }
      if (cells.length === 0) {
        if (upkeep.length > 0) await database.writeBatch(upkeep);
        watching = watchedKey;
        return [];
      }
      const found = await read(cells);
      const missing = cells.flatMap((_, i) => (found.has(i) ? [] : [i]));
      if (missing.length > 0) {
        const asked = missing.map((i) => cells[i]!);
        await database.writeBatch([fillStatement(windowArgs(asked))]);
        const filled = await read(asked);
        // Deleted between the fill and the read (a sweep by another pass): measured from the rollups' sums then.
        for (const [k, i] of missing.entries()) found.set(i, filled.get(k) ?? { sums: (await windowSumsMany(database.db, [asked[k]!]))[0] ?? zeroSums(), de: cellBuckets(asked[k]!).de });
      }
      const moves: Move[] = [];
      for (const [i, { de: was }] of found) {
        const cell = cells[i]!;
        const { lo, de } = cellBuckets(cell);
        const gap = de - was;
        if (gap !== 0 && (gap < 0 || gap >= ADVANCE_EVERY || (de + cell.rolloutId) % ADVANCE_EVERY === 0)) moves.push([cell.rolloutId, cell.cohort, cell.path, lo, de]);
      }
      if (moves.length > 0) upkeep.push(advanceStatement(moves));
      const byRollout = new Map<number, string>();
      for (const c of cells) byRollout.set(c.rolloutId, `${byRollout.get(c.rolloutId) ?? ''}${c.cohort}/${c.path}\n`);
      const resweep = [...byRollout].filter(([id, key]) => swept.get(id) !== key).map(([id]) => id);
      if (resweep.length > 0) {
        const ids = new Set(resweep);
        upkeep.push(sweepStatement(resweep, cells.filter((c) => ids.has(c.rolloutId))));
      }
      if (upkeep.length > 0) await database.writeBatch(upkeep);
      for (const id of resweep) swept.set(id, byRollout.get(id)!);
      watching = watchedKey;
      return cells.map((_, i) => found.get(i)!.sums);
    },
  };
}

export type WindowSums = ReturnType<typeof createWindowSums>;
