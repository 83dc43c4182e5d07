/** What the lost-message and replay APIs answer, as zod schemas (the replay answers tied to the service at compile time). */
import { z } from 'zod';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import { pathSchema } from '../rollouts/schemas.ts';
import type { LostService } from './service.ts';

export const LOST_STATUSES = ['lost', 'replayed', 'late'] as const;

export const lostPageSchema = named(
  'LostMessages',
  pageOf(
    z.strictObject({
      messageId: z.string(),
      partnerId: z.string(),
      cohort: z.string(),
      path: pathSchema,
      status: z.enum(LOST_STATUSES).describe('lost: not processed in time; replayed: processed again through replay; late: processed after it was declared lost'),
      receivedAt: isoTime.nullable(),
      settledAt: isoTime.nullable(),
      replayAttempts: z.number().int().min(0),
    }),
  ),
);

export const claimedSchema = named(
  'ReplayClaim',
  z.strictObject({
    items: z.array(
      z.strictObject({ rollout: z.string(), messageId: z.string(), partnerId: z.string(), cohort: z.string(), receivedAt: isoTime.nullable(), attempt: z.number().int() }),
    ),
    leaseUntil: isoTime.describe('the claimed messages are this instance\'s to replay until then'),
  }),
);

export const ackedSchema = named(
  'ReplayAck',
  z.strictObject({
    replayed: z.number().int().min(0),
    released: z.number().int().min(0).describe('failed replays, offered again after a backoff'),
    ignored: z.number().int().min(0).describe('items not leased to this instance (or of unknown rollouts)'),
  }),
);

const tied: [Same<z.output<typeof claimedSchema>, Awaited<ReturnType<LostService['claim']>>>, Same<z.output<typeof ackedSchema>, Awaited<ReturnType<LostService['ack']>>>] = [true, true];
void tied;
