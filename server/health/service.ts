/**
 * Cohort health against the guards: what the API and the dashboard show, and
 * what the controller acts on. Reads only; decisions are the rollouts'.
 */
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import type { BreachReport } from '../rollouts/breach.ts';
import type { RolloutService } from '../rollouts/service.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import { goneReason, horizonOf, reportersOfRollouts, reportersView, reportersWithin, type ReporterRow } from '../reporters/watch.ts';
import { measureRollout, watchOf, type MeasureOptions, type RolloutHealth } from './measure.ts';
import { measureMany, type Settled } from './measure-many.ts';
import { createMeasureMemo, type Spread } from './measure-memo.ts';
import { createWindowSums } from './window-sums.ts';
import { healthStatus, type Health, type HealthStatus } from './status.ts';
import * as store from './store.ts';
import type { DiffEntry } from '@rollcall/protocol';
import { fieldsOf } from './fields.ts';
import { rankedFields, splitSample } from './mismatch-view.ts';
import { boardEntry as entryOf, cohortFigures, healthSummary, healthView, type BoardEntry } from './view.ts';

/** How long a status on the board stands for its rollout's version: about four controller passes. */
export const BOARD_TTL_MS = 1_000;

/** What a status is judged from, beside the rollout: its measured cohorts, what is watched, pending replays and gone reporters. */
interface StatusFrom {
  version: number;
  cohorts: RolloutHealth['cohorts'];
  watch: ReturnType<typeof watchOf>;
  pending: number;
  gone: string | null;
}

/** The same input, its cohorts by identity (a measurement kept from pass to pass is the same object). */
const sameInput = (a: StatusFrom, b: StatusFrom): boolean => a.version === b.version && a.cohorts === b.cohorts && a.watch === b.watch && a.pending === b.pending && a.gone === b.gone;

export function createHealthService(deps: { database: Database; clock: Clock; rollouts: RolloutService }) {
  const { database, clock, rollouts } = deps;
  const db = database.db;
  /** What the controller's passes measured, kept while it still stands (measure-memo.ts). */
  const watched = createMeasureMemo(createWindowSums(database));

  /** Measured with the rollout's reporters (messages are due only as far as every live one has reported), and judged. */
  async function judged(aggregate: RolloutAggregate, now: number, windowSeconds?: number) {
    const { rollout } = aggregate;
    const rows = await reportersWithin(db, rollout, now);
    const measured = await measureRollout(db, aggregate, { now, windowSeconds, horizon: horizonOf(rows, now) });
    const reporters = reportersView(rows, rollout, now);
    const status = healthStatus({
      rollout,
      cohorts: aggregate.cohorts,
      measured: measured.cohorts,
      watch: watchOf(rollout, now),
      replayPending: measured.replay.lost,
      reportersGone: reporters.degradedReason,
    });
    return { measured, reporters, status };
  }

  /**
   * The statuses of many rollouts from grouped reads: their reporters and lost counts in one read
   * each, their figures as the controller's pass measures them (measure-many.ts). The same status
   * as `judged` gives one rollout at a time (a test holds them equal).
   */
  async function judgeMany(aggregates: RolloutAggregate[], now: number): Promise<Map<number, Health>> {
    return new Map([...(await judgeManyMeasured(aggregates, now))].map(([id, judged]) => [id, judged.health]));
  }

  /** `judgeMany`, with each measured rollout's figures beside its status. */
  async function judgeManyMeasured(aggregates: RolloutAggregate[], now: number): Promise<Map<number, { health: Health; measured?: RolloutHealth }>> {
    const result = new Map<number, { health: Health; measured?: RolloutHealth }>();
    // A draft or a reverted rollout's status is its state: nothing to measure.
    const measuredOnes = aggregates.filter(({ rollout }) => rollout.state !== 'draft' && rollout.state !== 'reverted');
    const byId = new Map(measuredOnes.map((a) => [a.rollout.id, a.rollout]));
    for (const aggregate of aggregates) {
      if (byId.has(aggregate.rollout.id)) continue;
      result.set(aggregate.rollout.id, { health: healthStatus({ rollout: aggregate.rollout, cohorts: aggregate.cohorts, measured: [], watch: 'none', replayPending: 0, reportersGone: null }).health });
    }
    if (measuredOnes.length === 0) return result;
    const { within, pending } = await reportersAndReplays(measuredOnes, now);
    const horizons = new Map(measuredOnes.map(({ rollout }) => [rollout.id, horizonOf(within.get(rollout.id)!, now)]));
    const measured = await measureMany(db, measuredOnes, { now, horizons });
    for (const [id, health] of statusesOf(measuredOnes, measured, within, pending, now)) result.set(id, { health, measured: measured.get(id) });
    return result;
  }

  /** The rollouts' reporters within each one's window, and their lost messages not replayed yet: one read each. */
  async function reportersAndReplays(aggregates: RolloutAggregate[], now: number) {
    const byId = new Map(aggregates.map((a) => [a.rollout.id, a.rollout]));
    const ids = [...byId.keys()];
    const widest = Math.max(...aggregates.map((a) => a.rollout.guards.windowSeconds));
    const [rows, pending] = await Promise.all([reportersOfRollouts(db, ids, now - widest * 1000), store.lostPendingMany(db, ids)]);
    const within = new Map<number, ReporterRow[]>(ids.map((id) => [id, []]));
    for (const row of rows) {
      if (row.lastEventAt >= now - byId.get(row.rolloutId)!.guards.windowSeconds * 1000) within.get(row.rolloutId)!.push(row);
    }
    return { within, pending };
  }

  /** What a measured rollout's status is judged from, besides the rollout: its figures, what is watched, pending replays and gone reporters. */
  function statusInput({ rollout }: RolloutAggregate, figures: RolloutHealth, within: Map<number, ReporterRow[]>, pending: Map<number, number>, now: number): StatusFrom {
    return { version: rollout.version, cohorts: figures.cohorts, watch: watchOf(rollout, now), pending: pending.get(rollout.id) ?? 0, gone: goneReason(within.get(rollout.id) ?? []) };
  }

  const statusFrom = ({ rollout, cohorts }: RolloutAggregate, input: StatusFrom): Health =>
    healthStatus({ rollout, cohorts, measured: input.cohorts, watch: input.watch, replayPending: input.pending, reportersGone: input.gone }).health;

  /** Each measured rollout's status, as `judged` gives it. */
  function statusesOf(aggregates: RolloutAggregate[], measured: Map<number, RolloutHealth>, within: Map<number, ReporterRow[]>, pending: Map<number, number>, now: number): Map<number, Health> {
    return new Map(aggregates.map((a) => [a.rollout.id, statusFrom(a, statusInput(a, measured.get(a.rollout.id)!, within, pending, now))]));
  }

  /**
   * The status board: what lists and scrapes read. Statuses asked for in one turn of the event loop
   * are judged together (judgeMany), and each stands for its rollout's version for BOARD_TTL_MS, so
   * a list of 200 rollouts or a scrape of 1,000 costs a few grouped reads, not a measurement each.
   */
  const board = new Map<string, BoardEntry>();
  /** What the controller's last pass put on the board, and from what (`record`): a status is judged again only when that moved. */
  const recorded = new Map<string, { input: StatusFrom; entry: BoardEntry }>();
  let asked: { aggregate: RolloutAggregate; resolve(entry: BoardEntry): void; reject(error: unknown): void }[] = [];

  async function judgeAsked(): Promise<void> {
    const batch = asked;
    asked = [];
    const now = clock.now();
    try {
      // One rollout asked twice in a turn is judged once.
      const unique = [...new Map(batch.map((b) => [b.aggregate.rollout.id, b.aggregate])).values()];
      const judgedNow = await judgeManyMeasured(unique, now);
      const entries = new Map(unique.map((a) => [a.rollout.id, entryOf(a, now, judgedNow.get(a.rollout.id)!.health, judgedNow.get(a.rollout.id)!.measured)]));
      for (const a of unique) board.set(a.rollout.key, entries.get(a.rollout.id)!);
      for (const b of batch) b.resolve(entries.get(b.aggregate.rollout.id)!);
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  /** The board's entry for this version of the rollout, while it is young enough. */
  function standing(key: string, version: number): BoardEntry | undefined {
    const entry = board.get(key);
    return entry !== undefined && entry.version === version && clock.now() - entry.placed <= BOARD_TTL_MS ? entry : undefined;
  }

  function onBoard(aggregate: RolloutAggregate): Promise<BoardEntry> {
    const entry = standing(aggregate.rollout.key, aggregate.rollout.version);
    if (entry !== undefined) return Promise.resolve(entry);
    return new Promise((resolve, reject) => {
      if (asked.length === 0) setImmediate(() => void judgeAsked());
      asked.push({ aggregate, resolve, reject });
    });
  }

  /** The full view: figures, statuses and reporters. */
  async function full(aggregate: RolloutAggregate, now: number, windowSeconds?: number) {
    const { measured, reporters, status } = await judged(aggregate, now, windowSeconds);
    return { ...healthView(measured, aggregate.rollout.guards, status), ...reporters };
  }

  return {
    /** The figures of every cohort; `guardsOnly` skips what only the API shows. */
    measure(aggregate: RolloutAggregate, options: Omit<MeasureOptions, 'now'> & { now?: number } = {}): Promise<RolloutHealth> {
      return measureRollout(db, aggregate, { ...options, now: options.now ?? clock.now() });
    },

    /** Guard figures of many rollouts in a few grouped reads (the controller's pass), by rollout id. */
    measureMany(aggregates: RolloutAggregate[], options: { now: number; horizons: Map<number, number>; settled?: Settled }): Promise<Map<number, RolloutHealth>> {
      return measureMany(db, aggregates, options);
    },

    /**
     * The controller's measurement of the rollouts it watches: measureMany's figures, measured afresh only
     * for the rollouts whose inputs moved since its last pass (measure-memo.ts); `measured` counts those.
     */
    measureWatched(aggregates: RolloutAggregate[], options: { now: number; horizons: Map<number, number>; settled: Settled; spread?: Spread }): Promise<{ health: Map<number, RolloutHealth>; measured: number; carried: Set<number>; overdue: number }> {
      return watched.measure(db, aggregates, options);
    },

    /**
     * When each rollout's messages are due, from its old path's timings (once per controller pass, before marking
     * lost): read again only for rollouts whose input count or window's first minute moved (measure-memo.ts).
     */
    settleMany(aggregates: RolloutAggregate[], now: number): Promise<Settled> {
      return watched.settle(db, aggregates, now);
    },

    /** GET /v1/rollouts/:key/health (404 when there is no such rollout). */
    async health(key: string, windowSeconds?: number) {
      return full(await rollouts.get(key), clock.now(), windowSeconds);
    },

    /** The per-cohort summary GET /v1/rollouts/:key carries. */
    async summary(aggregate: RolloutAggregate) {
      const { measured, status } = await judged(aggregate, clock.now());
      return healthSummary(measured, status);
    },

    /** The rollout's one status, as the list shows it, from the status board (placed at most BOARD_TTL_MS ago; its figures may be a second older: measure-memo.ts). */
    async status(aggregate: RolloutAggregate): Promise<Health> {
      return (await onBoard(aggregate)).health;
    },

    /** The same, with when it was measured. */
    board: onBoard,

    /**
     * The controller's pass put on the board: the statuses of the rollouts it measured, from its own
     * measurement (the reporters and pending replays read once more, grouped: the pass's own reading of
     * reporters may count one gone that came back as it was declared), so lists and scrapes of controlled
     * rollouts measure nothing themselves.
     */
    async record(aggregates: RolloutAggregate[], measured: Map<number, RolloutHealth>, now: number): Promise<void> {
      if (aggregates.length === 0) return;
      const { within, pending } = await reportersAndReplays(aggregates, now);
      for (const aggregate of aggregates) {
        const { rollout } = aggregate;
        const figures = measured.get(rollout.id)!;
        const input = statusInput(aggregate, figures, within, pending, now);
        const before = recorded.get(rollout.key);
        // A kept measurement (measure-memo.ts) under the same reporters and replays has the same status: only its time moves.
        // The entry's time is its figures' (a pass's own, or an earlier one's for figures it carried: measure-memo.ts,
        // measured again within a second); it stands from this pass on.
        if (before !== undefined && sameInput(before.input, input)) before.entry = { ...before.entry, at: figures.at, placed: now };
        else recorded.set(rollout.key, { input, entry: entryOf(aggregate, figures.at, statusFrom(aggregate, input), figures, now) });
        board.set(rollout.key, recorded.get(rollout.key)!.entry);
      }
      const keys = new Set(aggregates.map((a) => a.rollout.key));
      for (const key of recorded.keys()) if (!keys.has(key)) recorded.delete(key);
    },

    /**
     * New figures for these rollouts (a report committed, a replay): their next status is judged afresh, unless
     * it is the controller's pass's own entry. That one stands: a pass measures what moved within a second,
     * and a scrape or a list under traffic reads the pass's statuses rather than measuring every busy rollout anew.
     */
    forget(keys: Iterable<string>): void {
      for (const key of keys) {
        const entry = board.get(key);
        if (entry !== undefined && recorded.get(key)?.entry !== entry) board.delete(key);
      }
    },

    /** Statuses judged together, fresh (for tests and tools that compare them with `judged`). */
    judgeMany: (aggregates: RolloutAggregate[], now?: number) => judgeMany(aggregates, now ?? clock.now()),

    /** Every rollout's status (from the board) and effective live share, for /metrics. */
    async statuses() {
      // Every rollout's head (no cohorts, no guards); only those not standing on the board are loaded and judged.
      const heads = await rollouts.heads();
      const found = new Map<string, BoardEntry>();
      const missing: number[] = [];
      for (const head of heads) {
        const entry = standing(head.key, head.version);
        if (entry === undefined) missing.push(head.id);
        else found.set(head.key, entry);
      }
      for (let start = 0; start < missing.length; start += 500) {
        const aggregates = await rollouts.aggregatesByIds(missing.slice(start, start + 500));
        const entries = await Promise.all(aggregates.map(onBoard));
        aggregates.forEach((a, i) => found.set(a.rollout.key, entries[i]!));
      }
      return heads.flatMap((row) => {
        const entry = found.get(row.key);
        return entry === undefined ? [] : [{ rollout: row.key, status: entry.health.status, effectiveLive: entry.effectiveLive, at: entry.at, row, cohorts: entry.cohorts, tolerances: entry.tolerances }];
      });
    },

    /** The first breach of a guarded cohort, as the rollouts' rules take it: the guard, its figures and the cohort. */
    breachOf(health: RolloutHealth): BreachReport | null {
      const breached = health.cohorts.find((c) => c.breaches.length > 0);
      if (breached === undefined) return null;
      const breach = breached.breaches[0]!;
      const baseline = health.cohorts.find((c) => c.kind === 'baseline');
      return {
        cohort: breach.cohort,
        kind: breached.kind === 'shadow' ? 'shadow' : 'band',
        guard: breach.guard,
        reason: `guard ${breach.guard} breached in ${breach.cohort}: ${breach.reason}`,
        figures: { cohort: cohortFigures(breached), baseline: baseline === undefined ? null : cohortFigures(baseline), value: breach.value, threshold: breach.threshold, sample: breach.sample, evidence: breach.evidence ?? null },
      };
    },

    /** Mismatch samples, newest first, the fields they differ in over the guard window, and the noise learned (404 when there is no such rollout). */
    async mismatches(key: string, query: { cohort?: string | undefined; before?: number | undefined; limit: number }) {
      const { rollout } = await rollouts.get(key);
      const from = clock.now() - rollout.guards.windowSeconds * 1000;
      const [samples, fields] = await Promise.all([store.listSamples(db, { rolloutId: rollout.id, ...query }), fieldsOf(db, rollout, from, query.cohort)]);
      return { samples, ...fields };
    },

    /**
     * What the dashboard's rollout page shows of health: the view, the window it judged (the charts
     * draw that window and no other), the fields quiet in it (noise or ignored: what was withdrawn),
     * the newest samples and the fields ranked over the same window.
     */
    async page(aggregate: RolloutAggregate, now: number) {
      const { rollout } = aggregate;
      const { measured, reporters, status } = await judged(aggregate, now);
      const health = { ...healthView(measured, rollout.guards, status), ...reporters };
      const [samples, judgedFields] = await Promise.all([store.listSamples(db, { rolloutId: rollout.id, limit: 8 }), fieldsOf(db, rollout, measured.from)]);
      // Samples show real differences, noise apart; fields are ranked as the mismatches API ranks them.
      const shown = samples.map((s) => ({ ...s, ...splitSample(s.kind, s.diffs as DiffEntry[], judgedFields.quiet) }));
      const fields = { ranked: rankedFields(judgedFields.judged, judgedFields.counts, judgedFields.compared), learning: judgedFields.learning, runs: judgedFields.evidence.runs };
      const judgedWindow = { from: measured.from, at: measured.at, dueBefore: measured.dueBefore, since: new Map(measured.cohorts.map((c) => [c.name, c.since])) };
      return { health, window: judgedWindow, quiet: judgedFields.quiet, samples: shown, fields };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
