/**
 * `GET /readyz`: whether this server can do its work now. Liveness
 * (`/healthz`) only says the process answers; readiness also asks the
 * storage: a read always, and while an outage is open a committed write (a
 * full disk still answers reads). While the work itself failed (a report
 * batch or a decision could not commit), a one-row write proves nothing (a
 * nearly full disk still takes it, and so do small reports): readiness then
 * commits a large report batch's worth of bytes (`WORK_PROBE_BYTES`) and
 * clears them, and answers 503 until that commits. A load balancer takes a server that is
 * not ready out of rotation; it comes back by itself once storage does.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { storageProbe } from '../db/schema.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { describe } from '../http/openapi.ts';
import { named } from '../http/responses.ts';
import type { StorageMonitor } from './monitor.ts';
import { RETRY_AFTER_SECONDS, unavailableBody } from './unavailable.ts';

const PROBE_TIMEOUT_MS = 2_000;

const readinessSchema = named('Readiness', z.strictObject({ status: z.literal('ready') }));

/** What readiness writes while work fails: about what a large report batch adds to the ledger. */
export const WORK_PROBE_BYTES = 1024 * 1024;

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function readinessRoutes(deps: { database: Database; monitor: StorageMonitor; clock: Clock }) {
  const { database, monitor, clock } = deps;
  const app = new Hono();

  async function probe(): Promise<void> {
    await within(database.client.execute('SELECT 1'), PROBE_TIMEOUT_MS, 'a read');
    if (monitor.outage === null) return;
    const now = clock.now();
    if (!monitor.outage.work) {
      await within(
        database.write((tx) => tx.insert(storageProbe).values({ id: 1, probedAt: now }).onConflictDoUpdate({ target: storageProbe.id, set: { probedAt: now } })),
        PROBE_TIMEOUT_MS,
        'a write',
      );
      return;
    }
    // Committed, then cleared in a second commit: written and cleared at once, the bytes would never reach the disk.
    await within(
      (async () => {
        await database.writeBatch([{ sql: 'INSERT INTO storage_probe (id, probed_at, payload) VALUES (1, ?, randomblob(?)) ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at, payload = excluded.payload', args: [now, WORK_PROBE_BYTES] }]);
        await database.writeBatch([{ sql: 'UPDATE storage_probe SET payload = NULL WHERE id = 1', args: [] }]);
      })(),
      PROBE_TIMEOUT_MS,
      'a report-sized write',
    );
    monitor.workSucceeded();
  }

  app.get(
    '/readyz',
    describe({ summary: 'Readiness: 503 while storage fails (disk full, database locked, libsql server unreachable)', public: true, tag: 'service', response: readinessSchema }),
    async (c) => {
      try {
        await probe();
        return c.json({ status: 'ready' });
      } catch (error) {
        monitor.failed('GET /readyz', error);
        c.header('retry-after', String(RETRY_AFTER_SECONDS));
        return c.json(unavailableBody(monitor.outage, error), 503);
      }
    },
  );
  return app;
}
