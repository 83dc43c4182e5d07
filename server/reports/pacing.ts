/**
 * Housekeeping that yields to ingest. Every write takes the database's one
 * write lock (and, on a file, the event loop: libsql's file driver is
 * synchronous), so a rule deletes in small slices, each its own
 * transaction, and after each slice waits until its slices have held the
 * lock at most `share` of the time: with a quarter, a slice of 40 ms is
 * followed by 120 ms in which reports commit. Deleting a minute's settled
 * ids in 5,000-row slices back to back took the soak's committed rate down
 * to a fifth at every retention round; paced, it never dips.
 *
 * A pacer also says what its slices cost (how many, the longest hold), which
 * the metrics publish beside the report commits made meanwhile.
 */
import type { Database, SqlTransaction, Transaction } from '../db/database.ts';

export interface PaceCost {
  statements: number;
  /** The longest one slice held the write lock. */
  longestMs: number;
}

/** One slice's outcome: rows removed and how long it held the lock. */
export interface Slice {
  removed: number;
  heldMs: number;
}

export interface Pacer {
  readonly cost: PaceCost;
  reset(): void;
  /**
   * Runs `slice` again while it removes a full `limit`, at most `rounds` times, pausing after each
   * so that the slices hold the lock at most `share` of the time (1: back to back). Returns rows removed.
   */
  run(slice: () => Promise<Slice>, share: number): Promise<number>;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createPacer(options: { limit: number; rounds: number; stopped(): boolean; pause?(ms: number): Promise<void> }): Pacer {
  const pause = options.pause ?? wait;
  let cost: PaceCost = { statements: 0, longestMs: 0 };
  return {
    get cost() {
      return cost;
    },
    reset() {
      cost = { statements: 0, longestMs: 0 };
    },
    async run(slice, share) {
      let total = 0;
      for (let round = 0; round < options.rounds && !options.stopped(); round++) {
        const { removed, heldMs } = await slice();
        cost = { statements: cost.statements + 1, longestMs: Math.max(cost.longestMs, heldMs) };
        total += removed;
        if (removed < options.limit) break;
        if (share < 1) await pause((heldMs * (1 - share)) / share);
      }
      return total;
    },
  };
}

/** How long `work` ran, timed inside its transaction (not its wait in the write queue). */
async function held(work: () => Promise<number>): Promise<Slice> {
  const started = performance.now();
  const removed = await work();
  return { removed, heldMs: performance.now() - started };
}

/** A slice through drizzle, in a write transaction of its own. */
export const drizzleSlice = (database: Database, statement: (tx: Transaction) => Promise<number>) => () => database.write((tx) => held(() => statement(tx)));

/**
 * A slice of plain SQL in a write transaction of its own, on the connection ingest writes with (a file's
 * statement connection): its page cache stays warm for both. A write on another connection makes SQLite
 * drop a connection's whole page cache at its next transaction, so slices on the pool's connection
 * left every following report commit reading its index pages from the file again.
 */
export const sqlSlice = (database: Database, statement: (sql: SqlTransaction) => Promise<number>) => () => database.writeSql((sql) => held(() => statement(sql)));
