/**
 * The controller: every `tickMs` (250 ms), for every running or paused
 * rollout, it marks due open messages lost, measures the guarded cohorts,
 * and acts: a breach applies `onBreach`; a healthy, baked step with enough
 * due messages advances when `autoAdvance` is on. Every decision is a
 * compare-and-set on the version it measured, so several servers on one
 * database decide once; a server that loses the race lets it go.
 */
import { hasDueOpen, markLost } from '../accounting/store.ts';
import { measureRollout, type CohortHealth, type RolloutHealth } from '../accounting/health.ts';
import { cohortFigures } from '../accounting/health-view.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors.ts';
import type { LostAnnouncer } from '../callbacks/lost-announcer.ts';
import type { Logger } from '../logger.ts';
import type { RolloutAggregate } from '../rollouts/model.ts';
import type { RolloutService } from '../rollouts/service.ts';
import { keysInStates, loadAggregate } from '../rollouts/store.ts';

const LOST_PER_TICK = 10_000;

export interface ControllerEvents {
  /** Messages found lost in a tick, after their transaction committed. */
  onLost?(rolloutKey: string, lost: { messageId: string; cohort: string }[]): void;
  onTick?(ms: number): void;
  /** A pass met an error; true when it was a storage fault (counted and logged once per outage by the caller). */
  onError?(error: unknown): boolean;
}

export interface ControllerDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  rollouts: RolloutService;
  tickMs?: number;
  events?: ControllerEvents;
  /** Announces lost messages to callbacks, in the transaction that marks them. */
  lost?: LostAnnouncer;
}

/** Why the current step may advance, or why not yet (null: it may). */
export function advanceBlocker(aggregate: RolloutAggregate, health: RolloutHealth, now: number): string | null {
  const { rollout } = aggregate;
  if (rollout.step === null || rollout.step >= rollout.plan.length - 1) return 'no next step';
  const step = rollout.plan[rollout.step]!;
  const bakedAt = (rollout.stepEnteredAt ?? now) + (step.bakeSeconds ?? 0) * 1000;
  if (now < bakedAt) return `baking until ${new Date(bakedAt).toISOString()}`;
  const needed = Math.max(step.minMessages ?? 0, rollout.guards.minSample);
  const cohort = aggregate.cohorts.find((c) => c.step === rollout.step);
  const measured = (name: string): CohortHealth | undefined => health.cohorts.find((c) => c.name === name);
  if (cohort !== undefined) {
    if (cohort.status !== 'active') return `cohort ${cohort.name} is reverted`;
    const due = measured(cohort.name)?.due ?? 0;
    if (due < needed) return `cohort ${cohort.name} has ${due} of ${needed} due messages`;
  } else if (step.shadow !== undefined && step.shadow > step.live) {
    // A shadow step advances only on evidence: enough comparisons, at a healthy mismatch rate.
    const shadow = measured('shadow');
    const compared = shadow?.compared ?? 0;
    if (compared < needed) return `the shadow cohort has ${compared} of ${needed} comparisons`;
    if ((shadow?.rates.mismatch ?? 0) > rollout.guards.maxMismatchRate) return 'the shadow mismatch rate is above its guard';
  }
  return null;
}

export function createController(deps: ControllerDeps) {
  const { database, clock, logger, rollouts } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  async function evaluate(key: string): Promise<void> {
    const aggregate = await loadAggregate(database.db, key);
    if (aggregate === undefined) return;
    const { rollout } = aggregate;
    const now = clock.now();
    const dueBefore = now - rollout.guards.graceSeconds * 1000;
    if (await hasDueOpen(database.db, rollout.id, dueBefore)) {
      const lost = await database.write(async (tx) => {
        const marked = await markLost(tx, rollout.id, dueBefore, LOST_PER_TICK);
        await deps.lost?.record(tx, rollout, marked, now);
        return marked;
      });
      if (lost.length > 0) deps.events?.onLost?.(key, lost);
    }
    await deps.lost?.flushDue(database, rollout, now);
    const health = await measureRollout(database.db, aggregate, { now, guardsOnly: true });
    const breached = health.cohorts.find((c) => c.breaches.length > 0);
    if (breached !== undefined) {
      const breach = breached.breaches[0]!;
      const baseline = health.cohorts.find((c) => c.kind === 'baseline');
      const figures = { cohort: cohortFigures(breached), baseline: baseline === undefined ? null : cohortFigures(baseline), value: breach.value, threshold: breach.threshold, sample: breach.sample };
      const done = await rollouts.applyBreach(key, rollout.version, {
        cohort: breach.cohort,
        kind: breached.kind === 'shadow' ? 'shadow' : 'band',
        guard: breach.guard,
        reason: `guard ${breach.guard} breached in ${breach.cohort}: ${breach.reason}`,
        figures,
      });
      if (done !== null) logger.warn(`${key}: ${breach.guard} guard breached in ${breach.cohort}, ${rollout.onBreach} applied`, { version: done.version });
      return;
    }
    if (rollout.autoAdvance && rollout.state === 'running' && advanceBlocker(aggregate, health, now) === null) {
      const next = rollout.plan[(rollout.step ?? -1) + 1]!;
      await rollouts.transition(key, { action: 'advance' }, { actor: 'controller', ifMatch: rollout.version, reason: `auto-advance: step ${rollout.step} baked and healthy; next live ${next.live}%` });
    }
  }

  /** Never rejects: a pass that cannot read current figures decides nothing and the next one tries again. */
  async function tickOnce(): Promise<void> {
    const started = performance.now();
    let keys: string[];
    try {
      keys = await keysInStates(database.db, ['running', 'paused']);
    } catch (error) {
      if (deps.events?.onError?.(error) !== true) logger.error('controller: listing rollouts failed', { error: error instanceof Error ? error.message : String(error) });
      return;
    }
    for (const key of keys) {
      try {
        await evaluate(key);
      } catch (error) {
        // Another server decided first (the version moved): that is the compare-and-set working.
        if (error instanceof AppError && error.status === 409) continue;
        // Storage is failing: the rest of the pass would read no better; decide nothing until it is back.
        if (deps.events?.onError?.(error) === true) return;
        logger.error(`controller: evaluating ${key} failed`, { error: error instanceof Error ? error.message : String(error) });
      }
    }
    deps.events?.onTick?.(performance.now() - started);
  }

  return {
    /** One pass over every controlled rollout; concurrent calls share the pass in flight. */
    tick(): Promise<void> {
      running ??= tickOnce().finally(() => {
        running = null;
      });
      return running;
    },
    start(): void {
      if (timer !== null) return;
      timer = setInterval(() => void this.tick(), deps.tickMs ?? 250);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

export type Controller = ReturnType<typeof createController>;
