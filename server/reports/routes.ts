/** POST /v1/sdk/reports: batched accounting from SDKs, gzip or plain JSON, acknowledged once committed. */
import { Hono } from 'hono';
import type { Clock } from '../clock.ts';
import { badRequest } from '../errors.ts';
import type { AppEnv } from '../http/auth.ts';
import { describe } from '../http/openapi.ts';
import { issuesOf } from '../http/validate.ts';
import { readReport, semaphore } from './body.ts';
import type { Ingester } from './ingester.ts';
import { reportAckSchema } from './responses.ts';
import { reportBatchSchema } from './schemas.ts';

const MAX_CLOCK_OFFSET_MS = 86_400_000;

/**
 * Reports inflated and parsed at once: one thread's work anyway. A report
 * then waits for its commit without holding a slot, so the reports that
 * arrive while a commit runs are committed together in the next one.
 */
export const REPORTS_PARSING = 2;



export function reportRoutes(ingester: Ingester, clock: Clock) {
  const app = new Hono<AppEnv>();
  const parsing = semaphore(REPORTS_PARSING);
  // Reports in this server at once, from reading the body to the commit: the bound that keeps its
  // memory flat however many SDKs send at the same moment (the others wait with their bodies unread).
  // Twice a full group, so that one group can form while another commits.
  const admitted = semaphore(2 * ingester.groupMax);

  app.post('/reports', describe({ summary: 'A batch of accounting reports (JSON, or gzip with Content-Encoding)', body: reportBatchSchema, response: reportAckSchema }), async (c) => {
    const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
    const leave = await admitted.acquire();
    try {
      const release = await parsing.acquire();
      let parsed;
      try {
        parsed = reportBatchSchema.safeParse(await readReport(new Uint8Array(await c.req.arrayBuffer()), encoding));
      } finally {
        release();
      }
      if (!parsed.success) {
        throw badRequest('invalid_body', `the report is not valid (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`, {
          issues: issuesOf(parsed.error).slice(0, 20),
        });
      }
      // SDK timestamps move onto this server's clock by the offset between the two when the batch was sent.
      const sdkClock = Number(c.req.header('x-rollcall-clock'));
      const offset = Number.isFinite(sdkClock) && sdkClock > 0 ? clock.now() - sdkClock : 0;
      const clockOffset = Math.max(-MAX_CLOCK_OFFSET_MS, Math.min(MAX_CLOCK_OFFSET_MS, offset));
      return c.json(await ingester.submit({ batch: parsed.data, clockOffset }));
    } finally {
      leave();
    }
  });
  return app;
}
