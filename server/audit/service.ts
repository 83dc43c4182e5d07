/**
 * The audit log's one way in and out. Every domain records its entries with
 * `recordAudit` inside the transaction of the change they describe (or with
 * `auditStatement` in the batch that commits it), so the log cannot say what
 * did not commit; the API and the dashboard read it through the service.
 */
import type { Executor, Transaction } from '../db/database.ts';
import { appendAudit, auditInsert, listAudit, type AuditEntry } from './store.ts';
import { auditView } from './view.ts';

export type { AuditEntry } from './store.ts';

/** Records `entry` in `tx`, the transaction of the change it describes. */
export function recordAudit(tx: Transaction, entry: AuditEntry): Promise<void> {
  return appendAudit(tx, entry);
}

/** Recording `entry` as a statement not yet run, for a change committed as one batch (rollouts/breach-batch.ts). */
export function auditStatement(ex: Executor, entry: AuditEntry) {
  return auditInsert(ex, entry);
}

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
