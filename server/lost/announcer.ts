/**
 * `messages.lost`, without a flood: the controller finds lost messages every
 * tick, but subscribers hear of them at most once per rollout every 30 s.
 * The first loss is announced at once; losses found within the next 30 s are
 * tallied (durably, in the same transaction that marks them lost) and go out
 * together when the interval has passed.
 */
import { eventData } from '../callbacks/events.ts';
import type { Announce } from '../callbacks/outbox.ts';
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

export function createLostAnnouncer(deps: { announce: Announce; intervalMs?: number }) {
  const intervalMs = deps.intervalMs ?? LOST_ANNOUNCE_INTERVAL_MS;
  const isDue = (tally: Tally, now: number) => tally.pending > 0 && (tally.lastAnnouncedAt === null || now - tally.lastAnnouncedAt >= intervalMs);

  async function announceTally(tx: Transaction, rollout: Rollout, tally: Tally, now: number): Promise<void> {
    const cohorts = Object.keys(tally.byCohort);
    await deps.announce(tx, {
      type: 'messages.lost',
      at: now,
      data: eventData(rollout, {
        cohort: cohorts.length === 1 ? cohorts[0]! : null,
        reason: `${tally.pending} messages had no terminal report by their due time (the rollout's settle time, at most ${rollout.guards.graceSeconds} s after receipt)`,
        actor: 'controller',
        // A batch can go out after its messages were replayed: `stillLost` says what is left to do now.
        figures: { count: tally.pending, byCohort: tally.byCohort, sampleMessageIds: tally.sample, since: iso(tally.since ?? now), stillLost: await countStillLost(tx, rollout.id) },
      }),
    });
    await clearTally(tx, rollout.id, now);
  }

  return {
    /** Tallies messages just marked lost, in the transaction that marked them; announces when due. */
    async record(tx: Transaction, rollout: Rollout, lost: LostMessage[], now: number): Promise<void> {
      if (lost.length === 0) return;
      const current = (await readTally(tx, rollout.id)) ?? { rolloutId: rollout.id, pending: 0, byCohort: {}, sample: [], since: null, lastAnnouncedAt: null };
      const byCohort = { ...current.byCohort };
      for (const { cohort } of lost) byCohort[cohort] = (byCohort[cohort] ?? 0) + 1;
      const sample = [...current.sample, ...lost.slice(0, SAMPLE_IDS).map((m) => m.messageId)].slice(0, SAMPLE_IDS);
      const tally: Tally = { ...current, pending: current.pending + lost.length, byCohort, sample, since: current.since ?? now };
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
