/**
 * Many rollouts in a few statements: copies of one rollout made through the
 * service (so its rows are real ones), cloned by SQL under new keys with
 * their cohorts. The benchmarks that need hundreds of rollouts measure the
 * controller or the stream, not a thousand create/start requests.
 */
import type { InValue } from '@libsql/client';

type Run = (sql: string, args?: InValue[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** Clones rollout `template` as `<prefix>0001`…, `count` of them, cohorts included; returns the clones' ids. */
export async function cloneRollouts(run: Run, template: string, prefix: string, count: number): Promise<number[]> {
  if (count <= 0) return [];
  const columnsOf = async (table: string, skip: string[]) => (await run('SELECT name FROM pragma_table_info(?)', [table])).rows.map((r) => String(r.name)).filter((c) => !skip.includes(c));
  const columns = await columnsOf('rollouts', ['id', 'key', 'salt']);
  const cohortColumns = await columnsOf('cohorts', ['id', 'rollout_id']);
  const first = Number((await run('SELECT count(*) AS n FROM rollouts WHERE key LIKE ?', [`${prefix}%`])).rows[0]!.n);
  await run(
    `WITH RECURSIVE n(i) AS (SELECT ${first} UNION ALL SELECT i + 1 FROM n WHERE i < ${first + count - 1})
     INSERT INTO rollouts (key, salt, ${columns.join(', ')})
     SELECT printf('%s%04d', ?, i), printf('%s%04d', ?, i), ${columns.map((c) => `r.${c}`).join(', ')} FROM n, rollouts r WHERE r.key = ?`,
    [prefix, prefix, template],
  );
  const ids = (await run('SELECT id FROM rollouts WHERE key LIKE ? AND key != ? AND id NOT IN (SELECT rollout_id FROM cohorts) ORDER BY id', [`${prefix}%`, template])).rows.map((r) => Number(r.id));
  await run(
    `INSERT INTO cohorts (rollout_id, ${cohortColumns.join(', ')})
     SELECT ids.value, ${cohortColumns.map((c) => `c.${c}`).join(', ')} FROM json_each(?) AS ids, cohorts c JOIN rollouts t ON c.rollout_id = t.id AND t.key = ?`,
    [JSON.stringify(ids), template],
  );
  return ids;
}
