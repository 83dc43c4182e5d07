/**
 * Reading the audit log, for the API and the dashboard. Entries are written by
 * each domain inside the transaction of the change they record
 * (`appendAudit`), never through here: the log cannot say what did not commit.
 */
import type { Executor } from '../db/database.ts';
import { listAudit } from './store.ts';
import { auditView } from './view.ts';

export function createAuditService(deps: { db: Executor }) {
  return {
    /** Newest first, one page; `before` is the previous page's cursor. */
    async page(query: { rollout?: string | undefined; before?: number | undefined; limit: number }) {
      const rows = await listAudit(deps.db, { rolloutKey: query.rollout, before: query.before, limit: query.limit });
      return { items: rows.map(auditView), nextCursor: rows.length === query.limit ? String(rows[rows.length - 1]!.id) : null };
    },
    /** A rollout's latest `limit` entries, newest first. */
    async recent(rolloutKey: string, limit: number) {
      return (await listAudit(deps.db, { rolloutKey, limit })).map(auditView);
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
