/**
 * The delivery worker. It leases due deliveries in a write transaction (so
 * several servers on one database never send the same attempt at once),
 * sends each with the Standard Webhooks headers, and records the attempt:
 * 2xx succeeds; 410 disables that one subscription; anything else is retried
 * on the schedule (honouring `Retry-After` on 429 and 5xx) until it is spent,
 * which fails the delivery and writes `callback.exhausted` to the audit log.
 *
 * At most `concurrency` attempts are in flight per server (4); 0 turns the
 * worker off in this process (another server on the database delivers).
 */
import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/service.ts';
import { iso, type Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import { ATTEMPT_TIMEOUT_MS, type AttemptResult, type Sender } from './sender.ts';
import { retryDelay } from './schedule.ts';
import { signedHeaders } from './signing.ts';
import * as store from './store.ts';

/**
 * A lease covers one attempt's deadline plus a margin (for loading the
 * delivery, recording the outcome and clock skew between servers), so a
 * delivery held by a server that died is taken over about 20 s later rather
 * than after a minute. An attempt never outlives its lease: its deadline is
 * cut to what is left of the lease, and the sender aborts at the deadline.
 */
export const LEASE_MARGIN_MS = 5_000;
export const LEASE_MS = ATTEMPT_TIMEOUT_MS + LEASE_MARGIN_MS;
/** Kept free at the end of a lease for recording the outcome and clock skew between servers. */
const RECORD_MS = LEASE_MARGIN_MS / 2;
/** An attempt with less time than this left in its lease is not started. */
const MIN_ATTEMPT_MS = 1_000;

export interface WorkerDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  send: Sender;
  concurrency?: number;
  /**
   * How often to look for due deliveries written by other servers or falling due (500 ms), when the
   * last look found some; each look that finds none doubles the wait, up to 4 × pollMs.
   */
  pollMs?: number;
  /** In [0, 1): the schedule's jitter. */
  random?: () => number;
  /** Told of every attempt's outcome (metrics). */
  onAttempt?: (outcome: 'succeeded' | 'failed' | 'gone' | 'exhausted') => void;
  /** True when the error was a storage fault, already counted and logged once per outage. */
  onError?: (error: unknown) => boolean;
}

type Leased = Awaited<ReturnType<typeof store.loadLeased>>[number];

const retryable = (status: number | null) => status === 429 || (status !== null && status >= 500);

export function createDeliveryWorker(deps: WorkerDeps) {
  const { database, clock, logger, send } = deps;
  const concurrency = deps.concurrency ?? 4;
  const random = deps.random ?? Math.random;
  const owner = `worker-${randomBytes(6).toString('hex')}`;
  const active = new Set<Promise<void>>();
  let pumping: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  const pollMs = deps.pollMs ?? 500;
  /** The wait before the next look: back to `pollMs` whenever something was due or the worker was woken. */
  let waitMs = pollMs;
  let started = false;
  let stopped = false;

  async function record(item: Leased, result: AttemptResult, at: number): Promise<void> {
    const { delivery, callback, message } = item;
    const now = clock.now();
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const gone = result.status === 410;
    const attempts = delivery.attempts + 1;
    const delay = ok || gone || delivery.mode === 'once' ? null : retryDelay(attempts, random(), retryable(result.status) ? result.retryAfterMs : null);
    const nextAttemptAt = delay === null ? null : now + delay;
    const error = result.error ?? (ok ? null : result.status === null ? 'no response' : `answered ${result.status}`);
    const exhausted = !ok && !gone && nextAttemptAt === null && delivery.mode === 'schedule';
    const outcome = ok ? 'succeeded' : gone ? 'gone' : exhausted ? 'exhausted' : 'failed';
    const settled = await database.write(async (tx) => {
      // Compare-and-set on the lease first: when it ran out and another server took the delivery
      // over, that server's attempt is the one on record and this outcome is not written at all.
      const settled = await store.settleLeased(tx, delivery.id, { owner, until: delivery.leaseUntil ?? 0 }, {
        attempts,
        lastStatus: result.status,
        lastError: error,
        ...(nextAttemptAt === null ? { status: ok ? 'succeeded' : 'failed', nextAttemptAt: null, finishedAt: now } : { nextAttemptAt }),
      });
      if (!settled) return false;
      await store.insertAttempt(tx, { deliveryId: delivery.id, callbackId: callback.id, at, status: result.status, latencyMs: result.latencyMs, error, responseExcerpt: result.excerpt, address: result.address, nextAttemptAt });
      if (gone) {
        await store.updateCallback(tx, callback.id, { status: 'disabled', statusReason: 'the receiver answered 410 Gone', updatedAt: now });
        await store.cancelPendingOfCallback(tx, callback.id, now, 'the subscription was disabled: the receiver answered 410 Gone');
        await recordAudit(tx, { at: now, actor: 'callbacks', action: 'callback.disabled', rolloutKey: callback.rolloutKey, subject: callback.id, before: { status: callback.status }, after: { status: 'disabled', delivery: delivery.id }, reason: 'the receiver answered 410 Gone' });
      } else if (exhausted) {
        await recordAudit(tx, { at: now, actor: 'callbacks', action: 'callback.exhausted', rolloutKey: message.rolloutKey, subject: callback.id, after: { delivery: delivery.id, message: message.id, type: message.type, attempts, lastStatus: result.status, lastError: error }, reason: `no 2xx after ${attempts} attempts` });
      }
      return true;
    });
    if (!settled) {
      logger.warn(`callback ${callback.id} ${message.type} attempt ${attempts} outlived its lease; another server's attempt stands`, { delivery: delivery.id });
      return;
    }
    deps.onAttempt?.(outcome);
    if (!ok) logger.warn(`callback ${callback.id} ${message.type} attempt ${attempts} failed`, { delivery: delivery.id, status: result.status, error, next: iso(nextAttemptAt) });
  }

  /** False when too little of the lease was left to send: the delivery waits for the lease to run out. */
  async function attempt(item: Leased, leasedAt: number): Promise<boolean> {
    const { callback, message } = item;
    // Disabling a subscription cancels its pending deliveries in the same transaction: one leased
    // just before that is not sent, and there is no attempt to record.
    if (callback.status !== 'enabled') return true;
    const at = clock.now();
    // A slow lease write or load (a busy database) leaves less of the lease: the attempt's deadline
    // shrinks to fit, so it never overlaps another server's attempt once the lease runs out. With
    // too little left, the lease is let run out instead.
    const left = (item.delivery.leaseUntil ?? leasedAt + LEASE_MS) - RECORD_MS - at;
    if (left < MIN_ATTEMPT_MS) return false;
    await record(item, await send(callback.url, message.body, signedHeaders(callback, message.id, at, message.body), Math.min(ATTEMPT_TIMEOUT_MS, left)), at);
    return true;
  }

  async function pumpOnce(): Promise<void> {
    do {
      again = false;
      const free = concurrency - active.size;
      if (free <= 0 || stopped) return;
      const now = clock.now();
      if (!(await store.hasDue(database.db, now))) {
        if (again) continue; // woken while looking: look again rather than wait for the next poll
        // Nothing due: on a libsql server each look is a round trip on both ends, and an idle
        // worker need not pay it twice a second. A decision made here wakes it; retries are minutes apart.
        waitMs = Math.min(waitMs * 2, pollMs * 4);
        return;
      }
      waitMs = pollMs;
      const ids = await database.write((tx) => store.leaseDue(tx, owner, now, now + LEASE_MS, free, ATTEMPT_TIMEOUT_MS));
      // One subscription's deliveries go one after another, in the order they were written, all under the
      // lease taken now: a later one in the chain gets what is left of it (or waits for the lease to run out).
      const chains = new Map<string, Leased[]>();
      for (const item of await store.loadLeased(database.db, ids)) chains.set(item.callback.id, [...(chains.get(item.callback.id) ?? []), item]);
      for (const chain of chains.values()) {
        const running: Promise<void> = (async () => {
          for (const item of chain) {
            const sent = await attempt(item, now).catch((error: unknown) => {
              logger.error('callback attempt could not be recorded', { delivery: item.delivery.id, error: String(error) });
              return true;
            });
            if (!sent) break; // the rest of the chain must not overtake the one left for later
          }
        })().finally(() => {
          active.delete(running);
          void pump();
        });
        active.add(running);
      }
      if (ids.length === free) again = true;
    } while (again);
  }

  /** Leases and starts what is due, up to the free slots; concurrent calls share one pass. */
  function pump(): Promise<void> {
    if (pumping !== null) {
      again = true;
      return pumping;
    }
    pumping = pumpOnce()
      .catch((error: unknown) => {
        if (deps.onError?.(error) !== true) logger.error('callback worker failed to lease deliveries', { error: String(error) });
      })
      .finally(() => {
        pumping = null;
      });
    return pumping;
  }

  /** Which start() the poll belongs to: a look still under way from before a stop schedules no more. */
  let generation = 0;

  /** The poll: one look, then the next after `waitMs`. */
  function poll(of: number): void {
    void pump().finally(() => {
      if (timer === null || of !== generation) return;
      timer = setTimeout(poll, waitMs, of);
      timer.unref();
    });
  }

  return {
    /** Looks for due deliveries now (after a commit that queued some); does nothing until started. */
    wake(): void {
      waitMs = pollMs;
      if (started && !stopped) void pump();
    },
    /** Sends everything due now and waits for the attempts to be recorded (for tests and the demo). */
    async drain(): Promise<void> {
      do {
        await pump();
        await Promise.all([...active]);
      } while (!stopped && (active.size > 0 || (concurrency > 0 && (await store.hasDue(database.db, clock.now())))));
    },
    start(): void {
      if (concurrency <= 0 || timer !== null) return;
      started = true;
      stopped = false;
      timer = setTimeout(poll, 0, ++generation);
      timer.unref();
    },
    /** Stops leasing; attempts in flight finish and are recorded. */
    async stop(): Promise<void> {
      stopped = true;
      started = false;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await pumping;
      await Promise.all([...active]);
    },
  };
}

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;
