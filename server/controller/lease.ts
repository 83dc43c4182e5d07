/**
 * One controller pass at a time across servers sharing a database. On a
 * libsql server every read of a pass is an HTTP round trip on both ends, and
 * three servers each passing four times a second cost more CPU than the
 * traffic they controlled; the decisions need only one of them. The holder
 * of the lease runs the passes; the others wait. The lease runs for `ttlMs`
 * (2 s) and the holder extends it once half of it is gone, so a holder that
 * dies is replaced within `ttlMs` and a pass: a waiting server reads the row
 * once each time the time it last read runs out (about once a second), and
 * takes the lease when it was not extended. A clean shutdown gives the
 * lease up, so the next server to look takes it without waiting out the
 * last extension.
 *
 * The lease saves work; it is not what makes decisions safe. A holder paused
 * past its time, or clocks apart between servers, can leave two passing for
 * a moment: every decision is still a compare-and-set on the rollout's
 * version, and the old holder steps down at its next extension.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { readLease, releaseLease, takeLease } from './store.ts';

export const LEASE_TTL_MS = 2_000;

export function createControllerLease(deps: { database: Database; clock: Clock; ttlMs?: number; holder?: string }) {
  const { database, clock } = deps;
  const ttlMs = deps.ttlMs ?? LEASE_TTL_MS;
  const holder = deps.holder ?? `controller-${randomBytes(6).toString('hex')}`;
  /** Until when this server holds the lease, as it last wrote it (0: it does not). */
  let heldUntil = 0;
  /** Until when another server holds it, as last read: no need to look before then. */
  let othersUntil = 0;

  async function take(now: number): Promise<boolean> {
    const until = now + ttlMs;
    if (await takeLease(database, holder, now, until)) {
      heldUntil = until;
      return true;
    }
    heldUntil = 0;
    return false;
  }

  return {
    holder,
    /** Whether this server holds the lease, as far as it knows without asking. */
    get held(): boolean {
      return heldUntil > clock.now();
    },
    /**
     * Whether this server should run the pass now. No round trip while the
     * lease is fresh or another server's has not run out; one to extend it,
     * or to look (and take it when it was not extended) once another's ran out.
     */
    async acquire(): Promise<boolean> {
      const now = clock.now();
      if (heldUntil - now > ttlMs / 2) return true;
      if (heldUntil > 0) return take(now);
      if (now < othersUntil) return false;
      // A read first: while another server holds the lease, waiting costs no write.
      const current = await readLease(database.db);
      if (current !== undefined && current.holder !== holder && current.until > now) {
        othersUntil = current.until;
        return false;
      }
      return take(now);
    },
    /** Gives the lease up (on shutdown): the next server to look takes it. */
    async release(): Promise<void> {
      if (heldUntil === 0) return;
      heldUntil = 0;
      await releaseLease(database, holder);
    },
  };
}

export type ControllerLease = ReturnType<typeof createControllerLease>;
