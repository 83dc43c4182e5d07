/**
 * The rules for changing rollouts. Every change runs in one write
 * transaction: load, check `If-Match`, decide, compare-and-set on the
 * version, append the audit entry. The change is announced only after commit.
 */
import type { Path } from '@rollcall/protocol';
import { recordAudit } from '../audit/service.ts';
import type { ChangeFeed } from '../changes.ts';
import type { Clock } from '../clock.ts';
import { filePathOf, type Database, type Transaction } from '../db/database.ts';
import { conflict, notFound, VersionConflict } from '../errors.ts';
import { breachCommand, type BreachReport } from './breach.ts';
import { decideBreachInBatch, type AnnounceStatements } from './breach-batch.ts';
import { decide, decisionChanges, type LifecycleCommand, type LifecycleDecision } from './lifecycle.ts';
import { DEFAULT_GUARDS, isWatched, type Rollout, type RolloutAggregate, type RolloutChange } from './model.ts';
import { createdRollout, keyTaken, mergeGuards, patchedFields, refusedChange } from './edit.ts';
import { checkPlanChange } from './plan-change.ts';
import type { CreateRolloutInput, PatchRolloutInput } from './schemas.ts';
import * as store from './store.ts';
import { rolloutSummary, rolloutView, type RolloutView } from './view.ts';

/** Pins travel in every SDK snapshot, so they are bounded per rollout. */
export const MAX_PINS = 10_000;

export interface RolloutServiceDeps {
  database: Database;
  clock: Clock;
  changes: ChangeFeed;
  /** Hears of every decision in its transaction (the callbacks' outbox keeps the ones it announces). */
  announce?: AnnounceChange;
  /** The same for a decision sent as one batch (see breach-batch.ts). */
  announceStatements?: AnnounceStatements;
  /**
   * How the controller's breach decisions are committed: `batch` (the default
   * on a libsql server) or `transaction` (the default on the embedded file).
   */
  breachCommit?: 'transaction' | 'batch';
}


export type AnnounceChange = (tx: Transaction, change: RolloutChange) => Promise<unknown>;

/** Who asks, and on what they expect the rollout to be. */
export interface ChangeRequest {
  actor: string;
  /** The version from `If-Match`, when given: the change applies only to that version. */
  ifMatch?: number | undefined;
  reason?: string | undefined;
}

interface Outcome {
  event: string;
  subject?: string | null;
  before?: unknown;
  after?: unknown;
  /** Audit entries written before the change's own (a guard breach before its revert). */
  preceding?: { action: string; subject: string | null; after: unknown }[];
  /** The measurements behind an automatic decision, for the callback event. */
  figures?: unknown;
}

export { checkPlanChange, mergeGuards };

const summary = (aggregate: RolloutAggregate) => rolloutSummary(aggregate.rollout, aggregate.cohorts, aggregate.pins.length);

export function createRolloutService(deps: RolloutServiceDeps) {
  const { database, clock, changes, announce } = deps;
  const breachCommit = deps.breachCommit ?? (filePathOf(database.url) === null ? 'batch' : 'transaction');

  async function load(tx: Transaction, key: string): Promise<RolloutAggregate> {
    const aggregate = await store.loadAggregate(tx, key);
    if (aggregate === undefined) throw notFound('rollout', key);
    return aggregate;
  }

  /**
   * Runs one change in a write transaction. `apply` returns null when there is
   * nothing to change: then nothing is written, announced or versioned.
   */
  async function mutate(key: string, request: ChangeRequest, apply: (aggregate: RolloutAggregate, tx: Transaction, now: number) => Promise<Outcome | null>): Promise<RolloutView> {
    const now = clock.now();
    const { after, event } = await database.write(async (tx) => {
      const aggregate = await load(tx, key);
      const { version } = aggregate.rollout;
      if (request.ifMatch !== undefined && request.ifMatch !== version) {
        throw new VersionConflict(`If-Match names version ${request.ifMatch} but the rollout is at version ${version}`, { version });
      }
      const outcome = await apply(aggregate, tx, now);
      if (outcome === null) return { after: aggregate, event: null };
      for (const entry of outcome.preceding ?? []) {
        await recordAudit(tx, { at: now, actor: request.actor, action: entry.action, rolloutKey: key, subject: entry.subject, after: entry.after, reason: request.reason ?? null });
      }
      const after = await load(tx, key);
      await recordAudit(tx, {
        at: now,
        actor: request.actor,
        action: outcome.event,
        rolloutKey: key,
        subject: outcome.subject ?? null,
        before: 'before' in outcome ? outcome.before : summary(aggregate),
        after: 'after' in outcome ? outcome.after : summary(after),
        reason: request.reason ?? null,
      });
      if (announce !== undefined) {
        const about = (type: string, cohort: string | null) => announce(tx, { type, at: now, rollout: after.rollout, cohort, reason: request.reason ?? null, actor: request.actor, figures: outcome.figures });
        for (const entry of outcome.preceding ?? []) await about(entry.action, entry.subject);
        await about(outcome.event, outcome.subject ?? null);
      }
      return { after, event: outcome.event };
    });
    if (event !== null) changes.publish({ rolloutKey: key, version: after.rollout.version, event, actor: request.actor });
    return rolloutView(after);
  }

  /** Applies a lifecycle decision inside a transaction: the rollout (compare-and-set), its cohorts. */
  async function applyDecision(tx: Transaction, rollout: Rollout, decision: LifecycleDecision, request: ChangeRequest, now: number): Promise<void> {
    await store.updateRollout(tx, rollout.id, rollout.version, decisionChanges(decision, request.reason ?? null, now));
    if (decision.newCohort !== null) await store.insertCohort(tx, rollout.id, decision.newCohort, now);
    for (const name of decision.revert) {
      await store.revertCohort(tx, rollout.id, name, { at: now, kind: decision.revertKind, by: request.actor, reason: request.reason ?? null });
    }
    for (const name of decision.reactivate) await store.reactivateCohort(tx, rollout.id, name, now);
    if (decision.event === 'rollout.resumed') await store.restartCohortMeasurement(tx, rollout.id, now);
  }

  /** The controller's watched rollouts as last loaded, by id (see `controlled`). */
  let watched = new Map<number, RolloutAggregate>();
  /** The rollouts revision read before `watched` was last read whole (null: never). */
  let watchedRevision: number | null = null;

  return {
    async create(input: CreateRolloutInput, request: ChangeRequest): Promise<RolloutView> {
      const now = clock.now();
      const { rollout: values, refusals } = createdRollout(input, now);
      if (values === null) throw refusedChange(refusals, false);
      const view = await database.write(async (tx) => {
        if ((await store.findRollout(tx, input.key)) !== undefined) throw keyTaken(input.key).error;
        const rollout = await store.insertRollout(tx, values);
        const aggregate = { rollout, cohorts: [], pins: [] };
        await recordAudit(tx, { at: now, actor: request.actor, action: 'rollout.created', rolloutKey: input.key, after: summary(aggregate), reason: request.reason });
        return rolloutView(aggregate);
      });
      changes.publish({ rolloutKey: input.key, version: 1, event: 'rollout.created', actor: request.actor });
      return view;
    },

    /**
     * The rollout `create` would make, checked by the same rules and written nowhere (no audit entry, no
     * event). Refused as `create` would be, with every refusal in `details.refusals`.
     */
    async createDryRun(input: CreateRolloutInput): Promise<RolloutView> {
      const { rollout, refusals } = createdRollout(input, clock.now());
      if ((await store.findRollout(database.db, input.key)) !== undefined) refusals.push(keyTaken(input.key));
      if (rollout === null || refusals.length > 0) throw refusedChange(refusals, true);
      // Not stored, so it has no id yet; the view shows none.
      return rolloutView({ rollout: { id: 0, ...rollout }, cohorts: [], pins: [] });
    },

    /** The rollout with its cohorts and pins, as stored now (404 when there is none). */
    async get(key: string): Promise<RolloutAggregate> {
      const aggregate = await store.loadAggregate(database.db, key);
      if (aggregate === undefined) throw notFound('rollout', key);
      return aggregate;
    },

    /** The rollout with its cohorts and pins, or undefined when there is none. */
    find(key: string): Promise<RolloutAggregate | undefined> {
      return store.loadAggregate(database.db, key);
    },

    /**
     * The rollouts the controller watches, with their cohorts and pins: running and paused ones, and
     * completed ones during their watch. Every change to a rollout, its cohorts or its pins moves its
     * version (a compare-and-set, on this server or another), so an aggregate is kept from pass to pass
     * until its version moves: a pass reads the watched ids and versions, and loads only what changed.
     * Every write to a rollout row also moves one revision (migration 0022): while it holds, a pass reads
     * that one row and nothing else, whatever the number of rollouts.
     */
    async controlled(): Promise<RolloutAggregate[]> {
      const now = clock.now();
      // Read before the versions: a write after it moves it, and the next pass reads them again.
      const revision = await store.readRevision(database.db);
      // No rollout row changed since: the watched ones are those still watched now (a completed one's watch ends).
      // The kept set stays whole, so a clock stepped back finds what a read would find.
      if (revision === watchedRevision) return [...watched.values()].filter(({ rollout }) => isWatched(rollout, now));
      const versions = await store.controlledVersions(database.db, now, DEFAULT_GUARDS.watchSeconds);
      const stale = versions.filter((v) => watched.get(v.id)?.rollout.version !== v.version).map((v) => v.id);
      const loaded = new Map((await store.aggregatesByIds(database.db, stale)).map((a) => [a.rollout.id, a]));
      const out: RolloutAggregate[] = [];
      const next = new Map<number, RolloutAggregate>();
      for (const { id } of versions) {
        const aggregate = loaded.get(id) ?? watched.get(id);
        // Gone between the two reads (a draft deleted): not watched.
        if (aggregate === undefined) continue;
        next.set(id, aggregate);
        out.push(aggregate);
      }
      watched = next;
      watchedRevision = revision;
      return out;
    },

    /** Rollouts in key order with their cohorts (pins counted, not loaded): the dashboard's list. */
    page(page: { after?: string | undefined; limit: number }) {
      return store.listRollouts(database.db, page);
    },

    /** Every rollout's key, version, state and step, in key order: what a scrape reads before the status board. */
    heads() {
      return store.rolloutHeads(database.db);
    },

    /** These rollouts with their cohorts and pins, in key order. */
    aggregatesByIds(ids: number[]) {
      return store.aggregatesByIds(database.db, ids);
    },

    /** `decorate` adds what other domains show of each rollout (its health). */
    async list<T extends object>(page: { after?: string | undefined; limit: number }, decorate: (aggregate: RolloutAggregate) => Promise<T>) {
      const rows = await store.listRollouts(database.db, page);
      return {
        items: await Promise.all(rows.map(async (row) => ({ ...rolloutSummary(row.rollout, row.cohorts, row.pinCount), ...(await decorate({ rollout: row.rollout, cohorts: row.cohorts, pins: [] })) }))),
        nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.rollout.key : null,
      };
    },

    patch(key: string, input: PatchRolloutInput, request: ChangeRequest): Promise<RolloutView> {
      return mutate(key, request, async ({ rollout }, tx, now) => {
        const { changes, refusals } = patchedFields(rollout, input, now);
        if (refusals.length > 0) throw refusedChange(refusals, false);
        await store.updateRollout(tx, rollout.id, rollout.version, changes);
        return { event: 'rollout.updated' };
      });
    },

    /**
     * The rollout as `patch` would leave it (its version bumped), checked by the same rules against the
     * rollout as stored now and written nowhere. Refused as `patch` would be, with every refusal in
     * `details.refusals`.
     */
    async patchDryRun(key: string, input: PatchRolloutInput, request: Pick<ChangeRequest, 'ifMatch'>): Promise<RolloutView> {
      const aggregate = await store.loadAggregate(database.db, key);
      if (aggregate === undefined) throw notFound('rollout', key);
      const { version } = aggregate.rollout;
      if (request.ifMatch !== undefined && request.ifMatch !== version) {
        throw new VersionConflict(`If-Match names version ${request.ifMatch} but the rollout is at version ${version}`, { version });
      }
      const { changes, refusals } = patchedFields(aggregate.rollout, input, clock.now());
      if (refusals.length > 0) throw refusedChange(refusals, true);
      return rolloutView({ ...aggregate, rollout: { ...aggregate.rollout, ...changes, version: version + 1 } });
    },

    transition(key: string, command: LifecycleCommand, request: ChangeRequest): Promise<RolloutView> {
      return mutate(key, request, async (aggregate, tx, now) => {
        const decision = decide(aggregate, command);
        await applyDecision(tx, aggregate.rollout, decision, request, now);
        return { event: decision.event, subject: decision.subject };
      });
    },

    /**
     * The controller's decision on a breach, as a compare-and-set on the
     * version it measured: two servers that saw the same breach decide once.
     * Records `guard.breached` with the figures, then the change it made.
     * Returns null when the breach was already acted on.
     */
    async applyBreach(key: string, expectedVersion: number, breach: BreachReport): Promise<RolloutView | null> {
      if (breachCommit === 'batch') {
        const done = await decideBreachInBatch({ database, announce: deps.announceStatements }, key, expectedVersion, breach, clock.now());
        if (done === null) return null;
        changes.publish({ rolloutKey: key, version: done.after.rollout.version, event: done.event, actor: 'controller' });
        return rolloutView(done.after);
      }
      let acted = false;
      const view = await mutate(key, { actor: 'controller', ifMatch: expectedVersion, reason: breach.reason }, async (aggregate, tx, now) => {
        const command = breachCommand(aggregate, breach);
        if (command === null) return null;
        acted = true;
        const noted = { guard: breach.guard, onBreach: aggregate.rollout.onBreach };
        const entry = { action: 'guard.breached', subject: breach.cohort, after: { ...noted, figures: breach.figures } };
        const figures = { ...noted, ...(breach.figures as object) };
        if (command === 'announce') {
          // After completion every partner is on new and there is no cohort to send back: the breach is told, once.
          await store.updateRollout(tx, aggregate.rollout.id, aggregate.rollout.version, { watchBreachedAt: now, updatedAt: now });
          return { event: entry.action, subject: entry.subject, before: null, after: entry.after, figures };
        }
        const decision = decide(aggregate, command);
        await applyDecision(tx, aggregate.rollout, decision, { actor: 'controller', reason: breach.reason }, now);
        return { event: decision.event, subject: decision.subject, preceding: [entry], figures };
      });
      return acted ? view : null;
    },

    setPin(key: string, partnerId: string, path: Path, request: ChangeRequest): Promise<RolloutView> {
      return mutate(key, request, async ({ rollout, pins }, tx, now) => {
        const existing = pins.find((pin) => pin.partnerId === partnerId);
        if (existing === undefined && pins.length >= MAX_PINS) {
          throw conflict('too_many_pins', `a rollout holds at most ${MAX_PINS} pins; remove some first`);
        }
        await store.upsertPin(tx, rollout.id, { partnerId, path, at: now, by: request.actor });
        await store.updateRollout(tx, rollout.id, rollout.version, { updatedAt: now });
        return { event: 'pin.set', subject: partnerId, before: existing ? { path: existing.path } : null, after: { path } };
      });
    },

    removePin(key: string, partnerId: string, request: ChangeRequest): Promise<RolloutView> {
      return mutate(key, request, async ({ rollout, pins }, tx, now) => {
        const existing = pins.find((pin) => pin.partnerId === partnerId);
        if (existing === undefined) throw notFound('pin for partner', partnerId);
        await store.deletePin(tx, rollout.id, partnerId);
        await store.updateRollout(tx, rollout.id, rollout.version, { updatedAt: now });
        return { event: 'pin.removed', subject: partnerId, before: { path: existing.path }, after: null };
      });
    },
  };
}

export type RolloutService = ReturnType<typeof createRolloutService>;
