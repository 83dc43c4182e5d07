/**
 * Grouped reads at a thousand rollouts: lists in as one JSON argument, rows
 * out as one JSON value.
 *
 * `inArray` binds every value on its own and builds the statement value by
 * value (at 1,000 rollout ids, a few milliseconds before the statement runs);
 * `among` binds one. And `@libsql/client` builds an object per row it returns
 * (about 10 µs each: 1,000 rows of two numbers took longer than the read),
 * where one row holding a JSON array costs a parse.
 */
import { sql, type SQL } from 'drizzle-orm';

/** `(SELECT value FROM json_each(?))`: the values as one argument, for `column IN ${among(values)}`. */
export const among = (values: readonly (number | string)[]): SQL => sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`;

/** The rows of a read that selects `json_group_array(…) AS rows`, parsed (none when it found none). */
export function rowsOf<T>(found: { rows: string | null }[]): T[] {
  return JSON.parse(found[0]?.rows ?? '[]') as T[];
}
