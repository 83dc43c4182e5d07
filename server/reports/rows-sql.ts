/**
 * Multi-row statements for ingestion's writes: many rows per statement,
 * as `?` lists on the embedded file and as one JSON parameter on a libsql
 * server (see `rowsSql`).
 */
import type { InValue } from '@libsql/client';
import type { SqlRunner } from '../db/database.ts';

/** SQLite binds at most 32766 parameters per statement; stay well below. */
const CHUNK = 128;

/**
 * Rows in chunks of 128, the rest in powers of two (64, 32, … 1): each
 * multi-row statement then has at most eight sizes, so the ingest
 * connection's prepared statements stay cached instead of being made anew
 * for every row count (and left to the garbage collector).
 */
function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (; i + CHUNK <= rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  for (let size = CHUNK / 2; size >= 1; size /= 2) {
    if (rows.length - i >= size) {
      out.push(rows.slice(i, i + size));
      i += size;
    }
  }
  return out;
}

/**
 * A statement that adds many rows, in two forms. `values(n)`: n rows of `?`
 * (its text built once per n and kept), for the embedded file, where bound
 * values cost nothing and prepared statements are cached. `json`: every row
 * as one JSON array in a single parameter, read through `json_each`, for a
 * libsql server, where each bound value is encoded and decoded on its own
 * (a runner with `rowsAsJson`). Both produce the same rows in the same order.
 */
export function rowsSql(head: string, columns: number, tail: string) {
  const cache = new Map<number, string>();
  const row = `(${Array(columns).fill('?').join(', ')})`;
  const fields = Array.from({ length: columns }, (_, k) => `value->>${k}`).join(', ');
  return {
    values(rows: number): string {
      let text = cache.get(rows);
      if (text === undefined) cache.set(rows, (text = `${head} VALUES ${Array(rows).fill(row).join(', ')} ${tail}`));
      return text;
    },
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    json: `${head} SELECT ${fields} FROM json_each(?) WHERE true ${tail}`,
  };
}

export type RowsSql = ReturnType<typeof rowsSql>;

/** `trailing` are the arguments of `?`s in the statement's tail. */
export async function upsertChunks<T>(runner: SqlRunner, rows: T[], statement: RowsSql, values: (row: T) => InValue[], trailing: InValue[] = []): Promise<void> {
  if (rows.length === 0) return;
  if (runner.rowsAsJson === true) {
    await runner.execute({ sql: statement.json, args: [JSON.stringify(rows.map(values)), ...trailing] });
    return;
  }
  for (const chunk of chunks(rows)) {
    await runner.execute({ sql: statement.values(chunk.length), args: [...chunk.flatMap(values), ...trailing] });
  }
}
