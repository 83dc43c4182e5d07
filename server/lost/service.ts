/**
 * Lost messages: the controller's `markDue` marks open messages past their
 * grace lost and tallies them for `messages.lost` in one transaction (one
 * batch on a libsql server: mark-batch.ts); the
 * API lists them; an SDK that registered `onReplay` claims lost ids under a
 * lease, re-processes them through the old path, and acknowledges each. A
 * message replayed is `replayed`; one that failed stays lost and is offered
 * again after a backoff (its lease is kept until then).
 */
import type { Clock } from '../clock.ts';
import { filePathOf, type Database, type SqlRunner } from '../db/database.ts';
import { rolloutsByKey } from '../db/rollout-ids.ts';
import { notFound } from '../errors.ts';
import type { ReporterWatch } from '../reporters/watch.ts';
import type { Rollout } from '../rollouts/model.ts';
import type { LostAnnouncer, LostMessage } from './announcer.ts';
import { markLostInBatch, type EventStatements } from './mark-batch.ts';
import * as store from './store.ts';

export const REPLAY_RETRY_MS = 30_000;
/** Messages marked lost per rollout and tick at most; the rest wait for the next tick. */
const LOST_PER_TICK = 10_000;

export interface LostEvents {
  /** Messages found lost, after their transaction committed. */
  onLost?(rolloutKey: string, lost: LostMessage[]): void;
  /** Lost messages of these rollouts were replayed or released. */
  onReplayed?(rolloutKeys: string[]): void;
}

export interface ListQuery {
  statuses: store.LedgerStatus[];
  cohort?: string | undefined;
  after?: { receivedAt: number; messageId: string } | undefined;
  limit: number;
}

export interface LostDeps {
  database: Database;
  clock: Clock;
  announcer?: LostAnnouncer;
  reporters?: ReporterWatch;
  events?: LostEvents;
  /** How due messages are marked: one transaction (embedded file) or one batch (libsql server); chosen from the URL. */
  commit?: 'transaction' | 'batch';
  /** The outbox's statements for `messages.lost` in a batch. */
  eventStatements?: EventStatements;
}

export function createLostService(deps: LostDeps) {
  const { database, clock, announcer } = deps;
  const reader: SqlRunner = { execute: (statement) => database.client.execute(statement) };
  const commit = deps.commit ?? (filePathOf(database.url) === null ? 'batch' : 'transaction');

  async function markLost(rollout: Rollout, dueBefore: number, now: number): Promise<void> {
    const lost =
      commit === 'batch'
        ? await markLostInBatch({ database, announcer, events: deps.eventStatements }, rollout, dueBefore, now, LOST_PER_TICK)
        : await database.write(async (tx) => {
            const marked = await store.markLost(tx, rollout.id, dueBefore, LOST_PER_TICK);
            await announcer?.record(tx, rollout, marked, now);
            return marked;
          });
    if (lost.length > 0) deps.events?.onLost?.(rollout.key, lost);
  }

  return {
    /** The id of the rollout with this key (404 when there is none). */
    async rolloutId(key: string): Promise<number> {
      const found = (await rolloutsByKey(reader, [key])).get(key);
      if (found === undefined) throw notFound('rollout', key);
      return found.id;
    },

    /**
     * For every rollout of a controller pass: marks its due open messages lost
     * and announces them (once the interval allows). Due means due by the
     * horizon every live reporter has reported through (a late reporter delays
     * the verdict). The reads are done once for all rollouts (reporters, the
     * oldest open message, pending tallies); per rollout only what has
     * something to write. Returns each rollout's horizon by id.
     */
    async markDueMany(list: Rollout[], now: number, dueMs: Map<number, number> = new Map()): Promise<Map<number, number>> {
      const [horizons, oldest, pending] = await Promise.all([
        deps.reporters?.horizons(list, now) ?? new Map<number, number>(),
        store.oldestOpen(database.db),
        announcer === undefined ? new Set<number>() : store.pendingTallies(database.db),
      ]);
      for (const rollout of list) {
        // Due after the rollout's settle time (health/settle.ts), at most the grace.
        const dueBefore = (horizons.get(rollout.id) ?? now) - (dueMs.get(rollout.id) ?? rollout.guards.graceSeconds * 1000);
        const first = oldest.get(rollout.id);
        if (first !== undefined && first <= dueBefore) await markLost(rollout, dueBefore, now);
        if (pending.has(rollout.id)) await announcer?.flushDue(database, rollout, now);
      }
      return horizons;
    },

    /** Lost, replayed and late messages of one rollout, oldest first. */
    list(rolloutId: number, query: ListQuery) {
      return store.listLedger(database.db, { rolloutId, ...query });
    },

    /** The newest lost, late and replayed messages, for the dashboard. */
    recent(rolloutId: number, limit: number) {
      return store.recentLedger(database.db, rolloutId, limit);
    },

    async claim(input: { instanceId: string; rollouts: string[]; limit: number; leaseSeconds: number }) {
      const now = clock.now();
      const until = now + input.leaseSeconds * 1000;
      const items = await database.write(async (tx, runner) => {
        const known = await rolloutsByKey(runner, input.rollouts);
        const claimed: { rollout: string; messageId: string; partnerId: string; cohort: string; receivedAt: string | null; attempt: number }[] = [];
        for (const [key, rollout] of known) {
          if (claimed.length >= input.limit) break;
          const rows = await store.claimLost(tx, rollout.id, input.instanceId, now, until, input.limit - claimed.length);
          for (const row of rows) {
            claimed.push({ rollout: key, messageId: row.messageId, partnerId: row.partnerId, cohort: row.cohort, receivedAt: row.receivedAt === null ? null : new Date(row.receivedAt).toISOString(), attempt: row.attempt });
          }
        }
        return claimed;
      });
      return { items, leaseUntil: new Date(until).toISOString() };
    },

    async ack(input: { instanceId: string; items: { rollout: string; messageId: string; ok: boolean; error?: string | undefined }[] }) {
      const now = clock.now();
      const keys = [...new Set(input.items.map((i) => i.rollout))];
      const acked = await database.write(async (tx, runner) => {
        const known = await rolloutsByKey(runner, keys);
        let replayed = 0;
        let released = 0;
        let ignored = 0;
        for (const item of input.items) {
          const rollout = known.get(item.rollout);
          const done =
            rollout === undefined
              ? false
              : item.ok
                ? await store.markReplayed(tx, rollout.id, item.messageId, input.instanceId, now)
                : await store.releaseLease(tx, rollout.id, item.messageId, input.instanceId, now + REPLAY_RETRY_MS, item.error ?? 'replay failed');
          if (!done) ignored++;
          else if (item.ok) replayed++;
          else released++;
        }
        return { replayed, released, ignored };
      });
      deps.events?.onReplayed?.(keys);
      return acked;
    },
  };
}

export type LostService = ReturnType<typeof createLostService>;
