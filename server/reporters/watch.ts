/**
 * Watermarks per reporter. A due message is judged only once every live
 * reporter of its rollout (one that named the rollout within the guard
 * window, has not left and is not gone) has reported past its due time: the
 * judging horizon is the lowest such watermark. A reporter silent for longer
 * than `reporterTimeoutSeconds` is declared gone (audited, announced), and
 * is waited for no more.
 */
import type { Announce } from '../callbacks/outbox.ts';
import { eventData } from '../callbacks/events.ts';
import { recordAudit } from '../audit/service.ts';
import { iso } from '../clock.ts';
import type { Database, Executor, SqlTransaction } from '../db/database.ts';
import { reporterTimeoutOf, type Rollout } from '../rollouts/model.ts';
import { declareGone, deleteStaleReporters, recordHeardAll, reportersOf, reportersOfMany, type Heard, type ReporterRow } from './store.ts';

export type { Heard, ReporterRow } from './store.ts';

/** Records the reporters a committed group of reports heard from, in that group's write (ingestion's runner). */
export function recordReporters(runner: SqlTransaction, heard: Heard[], now: number): Promise<void> {
  return recordHeardAll(runner, heard, now);
}

/** The reporters of several rollouts heard from since `since` and not left, in one read (each caller narrows to its own window). */
export function reportersOfRollouts(ex: Executor, rolloutIds: number[], since: number): Promise<ReporterRow[]> {
  return reportersOfMany(ex, rolloutIds, since);
}

/** Through when every live reporter has reported: never later than `now`. */
export function horizonOf(rows: ReporterRow[], now: number): number {
  let horizon = now;
  for (const row of rows) if (row.goneAt === null && row.watermark < horizon) horizon = row.watermark;
  return horizon;
}

/** The reporters declared gone, by instance id. */
const goneOf = (rows: ReporterRow[]): ReporterRow[] => rows.filter((r) => r.goneAt !== null).sort((a, b) => a.instanceId.localeCompare(b.instanceId));

/** Why health is degraded by these reporters: the gone ones named (null: none is gone). */
export function goneReason(rows: ReporterRow[]): string | null {
  if (rows.length === 0) return null;
  return degradedBy(goneOf(rows));
}

const degradedBy = (gone: ReporterRow[]): string | null =>
  gone.length === 0 ? null : `reporter ${gone.map((r) => r.instanceId).join(', ')} went silent and was declared gone: its messages are judged without it`;

/** What health shows of the rollout's reporters; `degradedReason` names the gone ones (goneReason). */
export function reportersView(rows: ReporterRow[], rollout: Rollout, now: number) {
  const live = rows.filter((r) => r.goneAt === null);
  const graceMs = rollout.guards.graceSeconds * 1000;
  const gone = goneOf(rows);
  return {
    reporters: {
      live: live.length,
      lagging: live
        .filter((r) => now - r.watermark > graceMs)
        .map((r) => ({ instanceId: r.instanceId, lagSeconds: Math.round((now - r.watermark) / 100) / 10 }))
        .sort((a, b) => b.lagSeconds - a.lagSeconds),
      gone: gone.map((r) => ({ instanceId: r.instanceId, since: iso(r.goneAt!) })),
    },
    degraded: gone.length > 0,
    degradedReason: degradedBy(gone),
  };
}

/** The rollout's reporters within its guard window (live and gone; those that left are not waited for). */
export function reportersWithin(ex: Executor, rollout: Rollout, now: number): Promise<ReporterRow[]> {
  return reportersOf(ex, rollout.id, now - rollout.guards.windowSeconds * 1000);
}

/** `onGone`: after the commit that declared a reporter gone (the metrics count it). */
export function createReporterWatch(deps: { database: Database; announce?: Announce; onGone?: (rolloutKey: string) => void }) {
  const { database } = deps;

  /** Declares one silent reporter gone; only the server whose compare-and-set wins audits and announces it. */
  async function declare(rollout: Rollout, row: ReporterRow, silentSince: number, now: number): Promise<boolean> {
    return database.write(async (tx) => {
      if (!(await declareGone(tx, rollout.id, row.instanceId, silentSince, now))) return false;
      const silentSeconds = Math.round((now - row.lastSeen) / 1000);
      const reason = `reporter ${row.instanceId} silent for ${silentSeconds} s (reporterTimeoutSeconds ${reporterTimeoutOf(rollout.guards)}): its messages are judged without it`;
      const figures = { instanceId: row.instanceId, silentSeconds, lastSeen: iso(row.lastSeen), watermark: iso(row.watermark) };
      await recordAudit(tx, { at: now, actor: 'controller', action: 'reporter.gone', rolloutKey: rollout.key, subject: row.instanceId, after: figures, reason });
      await deps.announce?.(tx, { type: 'reporter.gone', at: now, data: eventData(rollout, { cohort: null, reason, actor: 'controller', figures }) });
      return true;
    });
  }

  /** Declares the silent ones among `rows` gone, then returns the judging horizon (≤ now). */
  async function judge(rollout: Rollout, rows: ReporterRow[], now: number): Promise<number> {
    const silentSince = now - reporterTimeoutOf(rollout.guards) * 1000;
    for (const row of rows) {
      if (row.goneAt !== null || row.lastSeen >= silentSince) continue;
      // Another server may have declared it first: gone either way, counted by the one that declared it.
      if (await declare(rollout, row, silentSince, now)) deps.onGone?.(rollout.key);
      row.goneAt = now;
    }
    return horizonOf(rows, now);
  }

  return {
    /** Retention's rule for reporters: deletes at most `limit` silent since before `before`; returns how many. */
    prune: (before: number, limit: number): Promise<number> => database.write((tx) => deleteStaleReporters(tx, before, limit)),
    /**
     * For each rollout (by id): declares its silent reporters gone, then gives its judging horizon (≤ now).
     * Reporters are read in one query; a rollout with none is judged without an await.
     */
    async horizons(list: Rollout[], now: number): Promise<Map<number, number>> {
      const widest = Math.max(0, ...list.map((r) => r.guards.windowSeconds));
      const rows = await reportersOfMany(database.db, list.map((r) => r.id), now - widest * 1000);
      const byRollout = new Map<number, ReporterRow[]>();
      for (const row of rows) {
        const list = byRollout.get(row.rolloutId);
        if (list === undefined) byRollout.set(row.rolloutId, [row]);
        else list.push(row);
      }
      const horizons = new Map<number, number>();
      for (const rollout of list) {
        const rows = byRollout.get(rollout.id);
        if (rows === undefined) {
          horizons.set(rollout.id, now);
          continue;
        }
        const since = now - rollout.guards.windowSeconds * 1000;
        horizons.set(rollout.id, await judge(rollout, rows.filter((r) => r.lastEventAt >= since), now));
      }
      return horizons;
    },
  };
}

export type ReporterWatch = ReturnType<typeof createReporterWatch>;
