/** What `POST /v1/sdk/reports` answers once a batch is committed, tied to the SDK's wire type at compile time. */
import { z } from 'zod';
import type { ReportAck } from '@rollcall/protocol';
import { named, type Same } from '../http/responses.ts';

export const reportAckSchema = named(
  'ReportAck',
  z.strictObject({
    batchId: z.string(),
    duplicate: z.boolean().describe('true: this batchId was committed before and nothing was counted twice'),
    ignored: z.number().int().min(0).describe('rows naming rollouts this server does not know'),
  }),
);

const tied: Same<z.output<typeof reportAckSchema>, ReportAck> = true;
void tied;
