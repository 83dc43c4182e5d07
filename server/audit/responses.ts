/** What GET /v1/audit answers, as a zod schema tied to the view at compile time. */
import { z } from 'zod';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import type { AuditService } from './service.ts';
import type { auditView } from './view.ts';

export const auditEntrySchema = named(
  'AuditEntry',
  z.strictObject({
    id: z.number().int(),
    at: isoTime,
    actor: z.string().describe('a key id, or system / controller for the server\'s own decisions'),
    action: z.string().describe('rollout.started, cohort.reverted, guard.breached, key.revoked, callback.created, …'),
    rollout: z.string().nullable(),
    subject: z.string().nullable().describe('what inside the rollout it touched: a cohort, a partner id, a key id'),
    before: z.unknown().describe('the state before, as JSON (null for a creation)'),
    after: z.unknown().describe('the state after, as JSON'),
    reason: z.string().nullable(),
  }),
);

export const auditPageSchema = named('AuditLog', pageOf(auditEntrySchema));

const tied: [Same<z.output<typeof auditEntrySchema>, ReturnType<typeof auditView>>, Same<z.output<typeof auditPageSchema>, Awaited<ReturnType<AuditService['page']>>>] = [true, true];
void tied;
