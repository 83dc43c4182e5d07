/** An audit entry as the API and the dashboard show it. */
import type { AuditRow } from './store.ts';

export function auditView(row: AuditRow) {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    rollout: row.rolloutKey,
    subject: row.subject,
    before: row.before,
    after: row.after,
    reason: row.reason,
  };
}

export type AuditView = ReturnType<typeof auditView>;
