/**
 * The window's counters: one cell per rollout, cohort and path, added to on
 * every event and sealed into count rows once per flush window. Like
 * LaunchDarkly's event summarizer, it only counts; sending is elsewhere.
 */
import { COUNTERS, latencySlot, MORE_PATHS, SLOTS, sparse, zeroCounts, type CountRow, type Counts, type DropReason, type Path } from '@rollcall/protocol';

/** Distinct field sets kept per cell and window; further ones are counted under `(more)`, never withdrawn. */
export const MAX_FIELD_SETS = 64;

export interface Cell extends Counts {
  readonly rollout: string;
  readonly cohort: string;
  readonly path: Path;
  /** Mismatch samples kept this window. */
  samples: number;
  latency: Uint32Array | null;
  candidateLatency: Uint32Array | null;
  /** This window's mismatches by the set of fields they differ in (joined by newlines). */
  differences: Map<string, number> | null;
  /** This window's `dropped` by reason, once anything was. */
  droppedBy: Partial<Record<DropReason, number>> | null;
  dirty: boolean;
  /** Unix second of this window's first event in the cell: the bucket its counts go to. */
  second: number;
}

const PATH_INDEX: Record<Path, number> = { old: 0, new: 1, shadow: 2 };

/** `wallNow` is the reporter's clock (epoch ms): every timestamp a report carries comes from it. */
export function createCounters(wallNow: () => number) {
  const cells = new Map<string, Map<string, Cell[]>>();
  let dirty: Cell[] = [];

  function touch(cell: Cell): void {
    if (!cell.dirty) {
      cell.dirty = true;
      // The bucket is the second of the cell's first event, never earlier: counts must not
      // land before the cohort they were routed to existed.
      cell.second = Math.floor(wallNow() / 1000);
      dirty.push(cell);
    }
  }

  return {
    touch,

    /** The counters for one rollout, cohort and path: two map lookups, no allocation once created. */
    cell(rollout: string, cohort: string, path: Path): Cell {
      let byCohort = cells.get(rollout);
      if (byCohort === undefined) cells.set(rollout, (byCohort = new Map()));
      let byPath = byCohort.get(cohort);
      if (byPath === undefined) byCohort.set(cohort, (byPath = []));
      const index = PATH_INDEX[path];
      let found = byPath[index];
      if (found === undefined) {
        found = { rollout, cohort, path, ...zeroCounts(), samples: 0, latency: null, candidateLatency: null, differences: null, droppedBy: null, dirty: false, second: 0 };
        byPath[index] = found;
      }
      return found;
    },

    recordLatency(target: Cell, ms: number, candidate: boolean): void {
      const histogram = candidate ? (target.candidateLatency ??= new Uint32Array(SLOTS)) : (target.latency ??= new Uint32Array(SLOTS));
      histogram[latencySlot(ms)]!++;
    },

    /** Counts `n` dropped events of one reason in the cell: they travel in its next count row. */
    drop(target: Cell, reason: DropReason, n: number): void {
      if (n <= 0) return;
      target.dropped += n;
      const by = (target.droppedBy ??= {});
      by[reason] = (by[reason] ?? 0) + n;
      touch(target);
    },

    /** One mismatch's differing fields, counted with the others of its set. */
    recordDifference(target: Cell, paths: readonly string[]): void {
      const sets = (target.differences ??= new Map());
      let key = paths.join('\n');
      if (!sets.has(key) && sets.size >= MAX_FIELD_SETS) key = MORE_PATHS;
      sets.set(key, (sets.get(key) ?? 0) + 1);
    },

    /** The touched cells as count rows; every cell starts the next window at zero. */
    seal(): CountRow[] {
      const rows: CountRow[] = [];
      for (const c of dirty) {
        const row = { rollout: c.rollout, cohort: c.cohort, path: c.path, second: c.second } as CountRow;
        for (const counter of COUNTERS) {
          row[counter] = c[counter];
          c[counter] = 0;
        }
        const latency = c.latency && sparse(c.latency);
        const candidateLatency = c.candidateLatency && sparse(c.candidateLatency);
        if (latency) row.latency = latency;
        if (candidateLatency) row.candidateLatency = candidateLatency;
        if (c.droppedBy !== null) {
          row.droppedBy = c.droppedBy;
          c.droppedBy = null;
        }
        if (c.differences !== null && c.differences.size > 0) {
          row.differences = [...c.differences].map(([key, count]) => ({ paths: key.split('\n'), count }));
          c.differences.clear();
        }
        rows.push(row);
        c.samples = 0;
        c.latency?.fill(0);
        c.candidateLatency?.fill(0);
        c.dirty = false;
      }
      dirty = [];
      return rows;
    },

    /** Cells touched this window. */
    get touched(): number {
      return dirty.length;
    },
  };
}

export type Counters = ReturnType<typeof createCounters>;
