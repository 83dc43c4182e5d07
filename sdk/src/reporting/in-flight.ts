/**
 * The messages received and not yet settled. While the server has not heard
 * of one, it sits in an intrusive doubly linked list (newest at the head), so
 * a message settled within its window is unlinked at once and dies young
 * (cheap for the garbage collector). Messages received through `received()`
 * are also found by id until `processed()` or `failed()`.
 */
import type { Cell } from './counters.ts';

export const OPEN = 0;
export const REPORTED = 1;
export const DONE = 2;
/** Open when its window was sealed, with no room to report it: counted as dropped, never sent by id. */
export const DROPPED = 3;

export interface InFlight {
  readonly cell: Cell;
  readonly messageId: string;
  readonly partnerId: string;
  /** performance.now() at receipt, whole milliseconds (a small integer: no allocation). */
  readonly receivedAt: number;
  state: number;
  prev: InFlight | null;
  next: InFlight | null;
}

export function createInFlight() {
  let head: InFlight | null = null;
  /** The oldest: where reporting open messages starts. */
  let tail: InFlight | null = null;
  let open = 0;
  // By rollout and id: a dictionary object rather than a Map, because a Map with this churn
  // (an add and a delete per message) keeps rehashing into tables linked each from the one
  // before, and once one is promoted the scavenger copies every later one (measured: 1.4-1.7
  // MB promoted per scavenge and 4-5 ms pauses, against 0-9 KB and 1.5 ms with the dictionary).
  const byId = new Map<string, Record<string, InFlight | undefined>>();

  function unlink(record: InFlight): void {
    if (record.prev !== null) record.prev.next = record.next;
    else head = record.next;
    if (record.next !== null) record.next.prev = record.prev;
    else tail = record.prev;
    record.prev = record.next = null;
  }

  return {
    begin(cell: Cell, messageId: string, partnerId: string, now: number): InFlight {
      const record: InFlight = { cell, messageId, partnerId, receivedAt: Math.floor(now), state: OPEN, prev: null, next: head };
      if (head !== null) head.prev = record;
      else tail = record;
      head = record;
      open++;
      return record;
    },

    /** Leaves the list; false when it had already settled. */
    settle(record: InFlight): boolean {
      if (record.state === DONE) return false;
      if (record.state === OPEN) unlink(record);
      open--;
      return true;
    },

    /**
     * Hands every message the server has not heard of, oldest first, to `report` (they are then
     * REPORTED) while `limit` lasts, and the rest to `drop` (they are then DROPPED).
     */
    reportOldest(limit: number, report: (record: InFlight) => void, drop: (record: InFlight) => void): void {
      let record = tail;
      // Oldest first: from the tail towards the head.
      while (record !== null) {
        const newer: InFlight | null = record.prev;
        if (limit > 0) {
          report(record);
          record.state = REPORTED;
          limit--;
        } else {
          drop(record);
          record.state = DROPPED;
        }
        unlink(record);
        record = newer;
      }
    },

    /** True when this id of the rollout is already remembered. */
    has(rollout: string, messageId: string): boolean {
      return byId.get(rollout)?.[messageId] !== undefined;
    },

    remember(rollout: string, messageId: string, record: InFlight): void {
      let ids = byId.get(rollout);
      if (ids === undefined) byId.set(rollout, (ids = Object.create(null) as Record<string, InFlight | undefined>));
      ids[messageId] = record;
    },

    /** The remembered message with this id, forgotten as it is returned. */
    take(rollout: string, messageId: string): InFlight | undefined {
      const ids = byId.get(rollout);
      const record = ids?.[messageId];
      if (record !== undefined) delete ids![messageId];
      return record;
    },

    /** Messages received and not settled. */
    get open(): number {
      return open;
    },
  };
}
