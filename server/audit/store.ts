/** The audit log: append-only. Nothing here updates or deletes. */
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Executor, Transaction } from '../db/database.ts';
import { auditLog } from '../db/schema.ts';

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  rolloutKey?: string | null;
  subject?: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

export type AuditRow = typeof auditLog.$inferSelect;

export async function appendAudit(tx: Transaction, entry: AuditEntry): Promise<void> {
  await auditInsert(tx, entry);
}

/** Appending one entry, as a statement not yet run (for a batch). */
export function auditInsert(ex: Executor, entry: AuditEntry) {
  return ex.insert(auditLog).values({
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    rolloutKey: entry.rolloutKey ?? null,
    subject: entry.subject ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
    reason: entry.reason ?? null,
  });
}

/** Newest first; `before` is the id cursor from the previous page. */
export async function listAudit(
  ex: Executor,
  query: { rolloutKey?: string | undefined; before?: number | undefined; limit: number },
): Promise<AuditRow[]> {
  return ex
    .select()
    .from(auditLog)
    .where(
      and(
        query.rolloutKey === undefined ? undefined : eq(auditLog.rolloutKey, query.rolloutKey),
        query.before === undefined ? undefined : lt(auditLog.id, query.before),
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(query.limit);
}
