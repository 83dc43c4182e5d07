/**
 * The controller: every `tickMs` (250 ms), for every running or paused
 * rollout, it marks due open messages lost, measures the guarded cohorts
 * (all rollouts at once, in grouped reads, afresh only those whose inputs
 * moved: health/measure-memo.ts; when more moved than `spread.limit`, the
 * others keep their figures a pass or two, within a second, and are decided
 * when next measured), and acts: a breach applies `onBreach`; a healthy, baked step with enough
 * due messages advances when `autoAdvance` is on. Every decision is a
 * compare-and-set on the version it measured, so several servers on one
 * database decide once; a server that loses the race lets it go. With a
 * lease (lease.ts), only the server holding it runs the timed passes.
 */
import type { Clock } from '../clock.ts';
import { VersionConflict } from '../errors.ts';
import type { HealthService } from '../health/service.ts';
import type { Spread } from '../health/measure-memo.ts';
import type { CohortHealth, RolloutHealth } from '../health/measure.ts';
import type { Logger } from '../logger.ts';
import type { LostService } from '../lost/service.ts';
import type { ControllerLease } from './lease.ts';
import { breachOutcome } from '../rollouts/breach.ts';
import { stepLabel, type RolloutAggregate } from '../rollouts/model.ts';
import type { RolloutService } from '../rollouts/service.ts';

export interface ControllerEvents {
  onTick?(ms: number): void;
  /** A pass met an error; true when it was a storage fault (counted and logged once per outage by the caller). */
  onError?(error: unknown): boolean;
}

export interface ControllerDeps {
  clock: Clock;
  logger: Logger;
  rollouts: RolloutService;
  lost: LostService;
  health: HealthService;
  tickMs?: number;
  /**
   * How many rollouts a pass measures afresh beyond those it must, and how old figures may be before it must
   * (health/measure-memo.ts). Default: 250 and a second, so every rollout is measured at least once a second
   * while passes keep their pace.
   */
  spread?: Spread;
  /** Timed passes run only while this server holds it; `tick()` runs regardless (tests, tools). */
  lease?: ControllerLease;
  events?: ControllerEvents;
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
    if (health.learningNoise !== null && (shadow?.mismatched ?? 0) > 0) return `learning noise: ${health.learningNoise.runs} of ${health.learningNoise.needed} double runs`;
    if (compared < needed) return `the shadow cohort has ${compared} of ${needed} comparisons`;
    // Withdrawn as noise only for want of evidence either way: wait until the evidence says which.
    if ((shadow?.withdrawn ?? 0) > 0 && health.unsettledNoise.length > 0) return `not yet known whether ${health.unsettledNoise.join(', ')} ${health.unsettledNoise.length === 1 ? 'is' : 'are'} noise: the new path differs there more often than two old runs do`;
    if ((shadow?.rates.mismatch ?? 0) > rollout.guards.maxMismatchRate) return 'the shadow mismatch rate is above its guard';
  }
  return null;
}

const DEFAULT_TICK_MS = 250;
/** Fresh measurements a pass makes beyond those it must (more when that would not reach every moved rollout within a second). */
const DEFAULT_SPREAD_LIMIT = 250;
/** Every watched rollout is measured at least this often while passes keep their pace. */
const MEASURED_EVERY_MS = 1_000;

export function createController(deps: ControllerDeps) {
  const { clock, logger, rollouts, lost, health } = deps;
  const tickMs = deps.tickMs ?? DEFAULT_TICK_MS;
  const spread = deps.spread ?? { limit: DEFAULT_SPREAD_LIMIT, maxAgeMs: MEASURED_EVERY_MS, everyMs: tickMs };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  /** One rollout, measured: rollouts.applyBreach, or advance. */
  async function decide(aggregate: RolloutAggregate, measured: RolloutHealth, now: number): Promise<void> {
    const { rollout } = aggregate;
    const key = rollout.key;
    const breach = health.breachOf(measured);
    if (breach !== null) {
      // Said before applying, from the rollout as measured: the same pure rule decides what applyBreach does.
      const outcome = breachOutcome(aggregate, breach);
      const done = await rollouts.applyBreach(key, rollout.version, breach);
      if (done !== null) logger.warn(`${key}: ${breach.guard} guard breached in ${breach.cohort}: ${outcome}`, { version: done.version });
      return;
    }
    if (rollout.autoAdvance && rollout.state === 'running' && advanceBlocker(aggregate, measured, now) === null) {
      const next = rollout.plan[(rollout.step ?? -1) + 1]!;
      await rollouts.transition(key, { action: 'advance' }, { actor: 'controller', ifMatch: rollout.version, reason: `auto-advance: ${stepLabel(rollout.step, rollout.plan.length)} baked and healthy; next live ${next.live}%` });
    }
  }

  /**
   * Never rejects: a pass that cannot read current figures decides nothing and the next one tries again.
   * Every watched rollout is loaded, marked and measured together (a handful of reads for the pass, not
   * a few dozen per rollout: at 1,000 rollouts on a libsql server those round trips took seconds); then
   * each is decided on its own, as before.
   */
  async function tickOnce(): Promise<void> {
    const started = performance.now();
    let aggregates: RolloutAggregate[];
    let measured: Map<number, RolloutHealth>;
    let carried: Set<number>;
    let now: number;
    try {
      aggregates = await rollouts.controlled();
      now = clock.now();
      const settled = await health.settleMany(aggregates, now);
      const horizons = await lost.markDueMany(aggregates.map((a) => a.rollout), now, settled.dueMs);
      ({ health: measured, carried } = await health.measureWatched(aggregates, { now, horizons, settled, spread }));
      // What lists and /metrics show of these rollouts, from this very measurement.
      await health.record(aggregates, measured, now);
    } catch (error) {
      if (deps.events?.onError?.(error) !== true) logger.error('controller: measuring rollouts failed', { error: error instanceof Error ? error.message : String(error) });
      return;
    }
    for (const aggregate of aggregates) {
      const { key, autoAdvance, state } = aggregate.rollout;
      // Figures carried from an earlier pass decide nothing: the pass that measures them again decides.
      if (carried.has(aggregate.rollout.id)) continue;
      const figures = measured.get(aggregate.rollout.id)!;
      // Nothing to decide without a breach or an advance to look at: no call, no await, for most of a thousand rollouts.
      if (!(autoAdvance && state === 'running') && health.breachOf(figures) === null) continue;
      try {
        await decide(aggregate, figures, now);
      } catch (error) {
        // Another server decided first (the version moved): that is the compare-and-set working.
        if (error instanceof VersionConflict) continue;
        // Storage is failing: the rest of the pass would read no better; decide nothing until it is back.
        if (deps.events?.onError?.(error) === true) return;
        logger.error(`controller: evaluating ${key} failed`, { error: error instanceof Error ? error.message : String(error) });
      }
    }
    deps.events?.onTick?.(performance.now() - started);
  }

  /** A timed pass: only by the lease's holder, when there is a lease. Never rejects. */
  async function timedOnce(): Promise<void> {
    if (deps.lease !== undefined) {
      try {
        if (!(await deps.lease.acquire())) return;
      } catch (error) {
        if (deps.events?.onError?.(error) !== true) logger.error('controller: the lease could not be read or taken', { error: error instanceof Error ? error.message : String(error) });
        return;
      }
    }
    await tickOnce();
  }

  /** Whether the pass in flight is a timed one (which may have run no pass: the lease was another's). */
  let runningTimed = false;

  /** Concurrent calls share the pass in flight. */
  function shared(work: () => Promise<void>, timed: boolean): Promise<void> {
    if (running === null) {
      runningTimed = timed;
      running = work().finally(() => {
        running = null;
      });
    }
    return running;
  }

  return {
    /** One pass over every controlled rollout, lease or not; concurrent calls share the pass in flight. */
    tick: (): Promise<void> => (running !== null && runningTimed ? running.then(() => shared(tickOnce, false)) : shared(tickOnce, false)),
    /** What the timer runs: a pass when this server holds the lease (or there is none). */
    timedTick: (): Promise<void> => shared(timedOnce, true),
    start(): void {
      if (timer !== null) return;
      timer = setInterval(() => void shared(timedOnce, true), tickMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
      // The next server to look takes over without waiting out the last extension.
      await deps.lease?.release().catch(() => undefined);
    },
  };
}

export type Controller = ReturnType<typeof createController>;
