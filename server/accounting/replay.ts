/**
 * Replay of lost messages: an SDK that registered `onReplay` claims lost ids
 * of its rollouts under a lease, re-processes them through the old path, and
 * acknowledges each. A message replayed is `replayed`; one that failed stays
 * lost and is offered again after a backoff (its lease is kept until then).
 */
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { rolloutsByKey, claimLost, markReplayed, releaseLease } from './store.ts';

export const REPLAY_RETRY_MS = 30_000;

export function createReplay(deps: { database: Database; clock: Clock }) {
  const { database, clock } = deps;
  return {
    async claim(input: { instanceId: string; rollouts: string[]; limit: number; leaseSeconds: number }) {
      const now = clock.now();
      const until = now + input.leaseSeconds * 1000;
      const items = await database.write(async (tx) => {
        const known = await rolloutsByKey(tx, input.rollouts);
        const claimed: { rollout: string; messageId: string; partnerId: string; cohort: string; receivedAt: string | null; attempt: number }[] = [];
        for (const [key, rollout] of known) {
          if (claimed.length >= input.limit) break;
          const rows = await claimLost(tx, rollout.id, input.instanceId, now, until, input.limit - claimed.length);
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
      return database.write(async (tx) => {
        const known = await rolloutsByKey(tx, [...new Set(input.items.map((i) => i.rollout))]);
        let replayed = 0;
        let released = 0;
        let ignored = 0;
        for (const item of input.items) {
          const rollout = known.get(item.rollout);
          const done =
            rollout === undefined
              ? false
              : item.ok
                ? await markReplayed(tx, rollout.id, item.messageId, input.instanceId, now)
                : await releaseLease(tx, rollout.id, item.messageId, input.instanceId, now + REPLAY_RETRY_MS, item.error ?? 'replay failed');
          if (!done) ignored++;
          else if (item.ok) replayed++;
          else released++;
        }
        return { replayed, released, ignored };
      });
    },
  };
}

export type Replay = ReturnType<typeof createReplay>;
