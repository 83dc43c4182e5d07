/**
 * The messages received and not yet settled. While the server has not heard
 * of one, it sits in an intrusive doubly linked list (newest at the head), so
 * a message settled within its window is unlinked at once and dies young
 * (cheap for the garbage collector). Messages received through `received()`
 * are also found by id until `processed()` or `failed()`.
 *
 * Such a message is often settled by another process (it travels by id), and
 * this one never hears of it again: once it is reported (sent by id at a
 * window's seal, or counted as dropped there), it waits in a second list of
 * the same kind, and when more than `maxRemembered` wait, the oldest are
 * forgotten. Their counts are settled business (the server holds the ids it
 * was sent); a later `processed()` here settles one by id, as another process
 * would, and a repeated `received()` counts it again. Without that bound every
 * id settled elsewhere stayed here for good: in the soak (one message in ten
 * settled by another SDK, 50,000 a second) the SDKs' process grew by
 * megabytes a second to gigabytes, and its collector's pauses stalled its sends.
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
  /** Found by id (`remember`) until settled or forgotten. */
  remembered: boolean;
  prev: InFlight | null;
  next: InFlight | null;
}

/** A list of records linked through their own `prev` and `next`: newest at the head. */
interface List {
  head: InFlight | null;
  tail: InFlight | null;
  size: number;
}

function push(list: List, record: InFlight): void {
  record.prev = null;
  record.next = list.head;
  if (list.head !== null) list.head.prev = record;
  else list.tail = record;
  list.head = record;
  list.size++;
}

function unlink(list: List, record: InFlight): void {
  if (record.prev !== null) record.prev.next = record.next;
  else list.head = record.next;
  if (record.next !== null) record.next.prev = record.prev;
  else list.tail = record.prev;
  record.prev = record.next = null;
  list.size--;
}

/** `maxRemembered`: remembered messages already reported (sent by id, or counted as dropped), kept at most (see the header). */
export function createInFlight(maxRemembered = Infinity) {
  /** Open: the server has not heard of them. The tail is the oldest: where reporting starts. */
  const opened: List = { head: null, tail: null, size: 0 };
  /** Remembered by id, reported (sent by id, or counted as dropped), not settled. */
  const handedOff: List = { head: null, tail: null, size: 0 };
  let open = 0;
  // By rollout and id: a dictionary object rather than a Map, because a Map with this churn
  // (an add and a delete per message) keeps rehashing into tables linked each from the one
  // before, and once one is promoted the scavenger copies every later one (measured: 1.4-1.7
  // MB promoted per scavenge and 4-5 ms pauses, against 0-9 KB and 1.5 ms with the dictionary).
  const byId = new Map<string, Record<string, InFlight | undefined>>();

  /** The oldest handed-off messages past the bound: out of the dictionary, no longer in flight here. */
  function forgetOldest(): void {
    while (handedOff.size > maxRemembered) {
      const record = handedOff.tail!;
      unlink(handedOff, record);
      const ids = byId.get(record.cell.rollout);
      if (ids?.[record.messageId] === record) delete ids[record.messageId];
      record.remembered = false;
      record.state = DONE;
      open--;
    }
  }

  return {
    begin(cell: Cell, messageId: string, partnerId: string, now: number): InFlight {
      const record: InFlight = { cell, messageId, partnerId, receivedAt: Math.floor(now), state: OPEN, remembered: false, prev: null, next: null };
      push(opened, record);
      open++;
      return record;
    },

    /** Leaves its list; false when it had already settled (or was forgotten). */
    settle(record: InFlight): boolean {
      if (record.state === DONE) return false;
      if (record.state === OPEN) unlink(opened, record);
      else if (record.remembered) unlink(handedOff, record);
      record.remembered = false;
      open--;
      return true;
    },

    /**
     * Hands every message the server has not heard of, oldest first, to `report` (they are then
     * REPORTED) while `limit` lasts, and the rest to `drop` (they are then DROPPED). Those remembered
     * by id wait for their settlement among the handed-off, the oldest forgotten past the bound.
     */
    reportOldest(limit: number, report: (record: InFlight) => void, drop: (record: InFlight) => void): void {
      let record = opened.tail;
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
        unlink(opened, record);
        if (record.remembered) push(handedOff, record);
        record = newer;
      }
      forgetOldest();
    },

    /** True when this id of the rollout is already remembered. */
    has(rollout: string, messageId: string): boolean {
      return byId.get(rollout)?.[messageId] !== undefined;
    },

    remember(rollout: string, messageId: string, record: InFlight): void {
      let ids = byId.get(rollout);
      if (ids === undefined) byId.set(rollout, (ids = Object.create(null) as Record<string, InFlight | undefined>));
      ids[messageId] = record;
      record.remembered = true;
    },

    /** The remembered message with this id, forgotten as it is returned. */
    take(rollout: string, messageId: string): InFlight | undefined {
      const ids = byId.get(rollout);
      const record = ids?.[messageId];
      if (record !== undefined) delete ids![messageId];
      return record;
    },

    /** Messages received and not settled (nor forgotten). */
    get open(): number {
      return open;
    },

    /** Remembered by id and already reported: at most `maxRemembered`. */
    get handedOff(): number {
      return handedOff.size;
    },
  };
}
