/**
 * A batch (`Database.writeBatch`) runs as one transaction, each statement
 * only if the one before it succeeded; a statement that fails rolls the whole
 * batch back. libsql's batch steps can be conditioned on success or failure
 * only, never on rows changed, so a compare-and-set that matched nothing has
 * to fail a statement itself. `failUnless` is that statement: SQLite has no
 * RAISE outside triggers, but a malformed JSON path is an error, and the CASE
 * reaches it only when `condition` is false (it may read `changes()`, the rows
 * the statement just before it changed).
 */
import type { InStatement, InValue } from '@libsql/client';

const PREFIX = 'rollcall guard ';

/** Fails the batch with `reason` (letters, digits, spaces) unless `condition` holds. */
export function failUnless(condition: string, args: InValue[], reason: string): InStatement {
  if (!/^[\w ]+$/.test(reason)) throw new Error(`a guard's reason is plain words: ${reason}`);
  return { sql: `SELECT json_extract('{}', CASE WHEN ${condition} THEN '$' ELSE '${PREFIX}${reason}' END) AS guard`, args };
}

/** Whether `error` is the failure of a `failUnless` guard with this reason. */
export function failedGuard(error: unknown, reason: string): boolean {
  const text = (value: unknown): string => (value instanceof Error ? `${value.message} ${text(value.cause)}` : '');
  return text(error).includes(`${PREFIX}${reason}`);
}
