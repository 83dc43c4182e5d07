/**
 * Rollout ids and graces by key, in plain SQL: ingestion and replay resolve
 * the keys SDKs name inside their own write transactions with this one query.
 */
import type { SqlRunner } from './database.ts';

export interface RolloutRef {
  id: number;
  graceSeconds: number;
}

export async function rolloutsByKey(runner: SqlRunner, keys: string[]): Promise<Map<string, RolloutRef>> {
  if (keys.length === 0) return new Map();
  const { rows } = await runner.execute({ sql: `SELECT id, key, guards FROM rollouts WHERE key IN (${keys.map(() => '?').join(', ')})`, args: keys });
  return new Map(rows.map((r) => [String(r.key), { id: Number(r.id), graceSeconds: (JSON.parse(String(r.guards)) as { graceSeconds: number }).graceSeconds }]));
}
