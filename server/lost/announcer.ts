/**
 * `messages.lost`, without a flood: the controller finds lost messages every
 * tick, but subscribers hear of them at most once per rollout every 30 s.
 * The first loss is announced at once; losses found within the next 30 s are
 * tallied (durably, in the same transaction that marks them lost) and go out
 * together when the interval has passed. The tally and the event are worked
 * out by `tallied` and `announcement`, the same for a transaction (here) and
 * a batch (mark-batch.ts).
 */
import { eventData } from '../callbacks/events.ts';
import type { Announce } from '../callbacks/outbox.ts';
import type { CallbackMessage } from '../callbacks/events.ts';
import { iso } from '../clock.ts';
import type { Database, Transaction } from '../db/database.ts';
import type { Rollout } from '../rollouts/model.ts';
import { clearTally, countStillLost, readTally, saveTally, type Tally } from './store.ts';

export const LOST_ANNOUNCE_INTERVAL_MS = 30_000;
const SAMPLE_IDS = 20;

export interface LostMessage {
  messageId: string;
  cohort: string;
}

/** The tally with `lost` added (`current` undefined: the rollout's first). */
export function tallied(rolloutId: number, current: Tally | undefined, lost: LostMessage[], now: number): Tally {
  const base = current ?? { rolloutId, pending: 0, byCohort: {}, sample: [], since: null, lastAnnouncedAt: null };
  const byCohort = { ...base.byCohort };
  for (const { cohort } of lost) byCohort[cohort] = (byCohort[cohort] ?? 0) + 1;
  const sample = [...base.sample, ...lost.slice(0, SAMPLE_IDS).map((m) => m.messageId)].slice(0, SAMPLE_IDS);
  return { ...base, pending: base.pending + lost.length, byCohort, sample, since: base.since ?? now };
}

/** The tally once announced: it starts again from nothing. */
export const cleared = (tally: Tally, now: number): Tally => ({ ...tally, pending: 0, byCohort: {}, sample: [], since: null, lastAnnouncedAt: now });

/** The `messages.lost` event for a tally; `stillLost`: the rollout's lost messages not replayed now. */
export function announcement(rollout: Rollout, tally: Tally, stillLost: number, now: number): CallbackMessage {
  const cohorts = Object.keys(tally.byCohort);
  return {
    type: 'messages.lost',
    at: now,
    data: eventData(rollout, {
      cohort: cohorts.length === 1 ? cohorts[0]! : null,
      reason: `${tally.pending} messages had no terminal report by their due time (the rollout's settle time, at most ${rollout.guards.graceSeconds} s after receipt)`,
      actor: 'controller',
      // A batch can go out after its messages were replayed: `stillLost` says what is left to do now.
      figures: { count: tally.pending, byCohort: tally.byCohort, sampleMessageIds: tally.sample, since: iso(tally.since ?? now), stillLost },
    }),
  };
}

export function createLostAnnouncer(deps: { announce: Announce; intervalMs?: number }) {
  const intervalMs = deps.intervalMs ?? LOST_ANNOUNCE_INTERVAL_MS;
  const isDue = (tally: Tally, now: number) => tally.pending > 0 && (tally.lastAnnouncedAt === null || now - tally.lastAnnouncedAt >= intervalMs);

  async function announceTally(tx: Transaction, rollout: Rollout, tally: Tally, now: number): Promise<void> {
    await deps.announce(tx, announcement(rollout, tally, await countStillLost(tx, rollout.id), now));
    await clearTally(tx, rollout.id, now);
  }

  return {
    isDue,
    /** Tallies messages just marked lost, in the transaction that marked them; announces when due. */
    async record(tx: Transaction, rollout: Rollout, lost: LostMessage[], now: number): Promise<void> {
      if (lost.length === 0) return;
      const tally = tallied(rollout.id, await readTally(tx, rollout.id), lost, now);
      await saveTally(tx, tally);
      if (isDue(tally, now)) await announceTally(tx, rollout, tally, now);
    },

    /** Sends what was tallied once the interval has passed (a cheap read when there is nothing to send). */
    async flushDue(database: Database, rollout: Rollout, now: number): Promise<void> {
      const tally = await readTally(database.db, rollout.id);
      if (tally === undefined || !isDue(tally, now)) return;
      await database.write(async (tx) => {
        const fresh = await readTally(tx, rollout.id);
        if (fresh !== undefined && isDue(fresh, now)) await announceTally(tx, rollout, fresh, now);
      });
    },
  };
}

export type LostAnnouncer = ReturnType<typeof createLostAnnouncer>;
