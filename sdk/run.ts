/**
 * `run()`: route a message, run its handler, count it; in a shadow cohort
 * (and for the `verify` share of live messages) run the other path beside
 * it and compare. The authoritative result or error is returned as soon as
 * that path settles. The candidate runs concurrently under its own timeout
 * and a concurrency cap, after the authoritative call has started, and
 * nothing it does can reach the caller.
 */
import type { Route } from './assignment.ts';
import { createComparator, type Comparator, type CompareOptions } from './compare.ts';
import type { Evaluator } from './evaluator.ts';
import { formatPath, PathSet } from './json-path.ts';
import type { Cell, Reporter } from './reporter.ts';
import { wireId, type MismatchKind } from './wire.ts';

export interface HandlerContext {
  /** Which path this call is. */
  path: 'old' | 'new';
  /** True when the result will be compared and discarded: avoid committing side effects. */
  shadow: boolean;
}

export type Handler<T> = (context: HandlerContext) => T | Promise<T>;

export interface Handlers<T> {
  old: Handler<T>;
  new: Handler<T>;
}

export interface MessageRef {
  partnerId: string;
  messageId: string;
}

export interface RunCompareOptions extends CompareOptions {
  /** Share (0..1) of compared messages on which the old path runs twice to learn noisy fields. Off by default: it runs old side effects twice. */
  learnNoise?: number;
}

export interface RunOptions {
  /** A handler still running after this many ms is counted as failed and the call rejects. */
  timeoutMs?: number;
  /** Comparison options for this call (the client's defaults otherwise). */
  compare?: RunCompareOptions;
}

export class RollcallTimeoutError extends Error {
  constructor(ms: number) {
    super(`the handler did not settle within ${ms} ms`);
    this.name = 'RollcallTimeoutError';
  }
}

type Outcome = { ok: true; value: unknown; ms: number } | { ok: false; error: unknown; ms: number; timedOut: boolean };

export interface RunnerOptions {
  evaluator: Evaluator;
  reporter: Reporter;
  compareFor(rolloutKey: string): RunCompareOptions | undefined;
  shadowTimeoutMs: number;
  maxConcurrentComparisons: number;
  random: () => number;
}

function invoke<T>(handler: Handler<T>, context: HandlerContext, timeoutMs: number | undefined): Promise<T> | T {
  let result: Promise<T> | T;
  try {
    result = handler(context);
  } catch (error) {
    return Promise.reject(error);
  }
  if (timeoutMs === undefined || timeoutMs <= 0 || !(result instanceof Promise)) return result;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RollcallTimeoutError(timeoutMs)), timeoutMs);
    (result as Promise<T>).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Waits for a candidate's promise and reports to its call. A module-level
 * function rather than two closures per call: under a transform that keeps
 * function names (tsx, esbuild's keepNames) every closure created per call
 * also costs a defineProperty, and the allocations feed the garbage collector.
 */
async function watchPromise(call: { onValue(value: unknown): void; onError(error: unknown): void }, promise: PromiseLike<unknown>): Promise<void> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    call.onError(error);
    return;
  }
  call.onValue(value);
}

/** The contexts handlers receive: frozen and shared, so that no call allocates one. */
const CONTEXTS: Record<'old' | 'new', Readonly<HandlerContext>> = { old: Object.freeze({ path: 'old', shadow: false }), new: Object.freeze({ path: 'new', shadow: false }) };
const SHADOW_CONTEXTS: Record<'old' | 'new', Readonly<HandlerContext>> = { old: Object.freeze({ path: 'old', shadow: true }), new: Object.freeze({ path: 'new', shadow: true }) };

const describeError = (error: unknown) => ({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });

export function createRunner(options: RunnerOptions) {
  const { evaluator, reporter, random } = options;
  const route: Route = { path: 'old', cohort: 'baseline' };
  const comparators = new WeakMap<object, Comparator>();
  const defaultComparator = createComparator();
  const noise = new Map<string, PathSet>();
  let active = 0;

  function comparatorFor(compare: RunCompareOptions | undefined): Comparator {
    if (compare === undefined) return defaultComparator;
    let found = comparators.get(compare);
    if (found === undefined) comparators.set(compare, (found = createComparator(compare)));
    return found;
  }

  function noiseFor(rolloutKey: string): PathSet {
    let set = noise.get(rolloutKey);
    if (set === undefined) noise.set(rolloutKey, (set = new PathSet()));
    return set;
  }

  // Work for shadow runs waits in two queues worked through in later turns of the
  // event loop: candidates to start, and comparisons to make (a slice at a time,
  // so that a burst of them never holds up the timers and I/O callers wait on).
  const starts: ShadowRun[] = [];
  const comparisons: ShadowRun[] = [];
  let startScheduled = false;
  let draining = false;
  const SLICE_MS = 0.1;
  // Candidate deadlines are checked by one timer, not one timer per candidate. The
  // calls under a deadline sit in an array, each knowing its slot, and leave it by
  // swapping in the last. Not a Set: a Set with this churn keeps rehashing into new
  // tables, each linked from the one before, and once one of those is promoted every
  // later one is copied by each scavenge (measured in the shadow benchmark: 1.4 MB
  // promoted per scavenge instead of 0.05, and 4-6 ms pauses instead of 1).
  const watched: CandidateCall[] = [];
  let deadlineTimer: NodeJS.Timeout | null = null;

  function startAll(): void {
    startScheduled = false;
    for (const run of starts.splice(0)) run.start();
  }

  function drain(): void {
    const until = performance.now() + SLICE_MS;
    while (comparisons.length > 0 && performance.now() < until) comparisons.shift()!.finish();
    if (comparisons.length > 0) setImmediate(drain);
    else draining = false;
  }

  function checkDeadlines(): void {
    const now = performance.now();
    // From the end: an expired call swaps in the last, which has been looked at already.
    for (let i = watched.length - 1; i >= 0; i--) if (now >= watched[i]!.deadline) watched[i]!.expire();
    if (watched.length === 0 && deadlineTimer !== null) {
      clearInterval(deadlineTimer);
      deadlineTimer = null;
    }
  }

  /** One candidate call: settles its run's slot once, by value, error or deadline. */
  class CandidateCall {
    readonly deadline: number;
    private readonly began = performance.now();
    private settled = false;
    /** Index in `watched` while under a deadline. */
    private slot = -1;

    constructor(
      private readonly run: ShadowRun,
      private readonly index: 1 | 2,
      timeoutMs: number,
    ) {
      this.deadline = timeoutMs > 0 ? this.began + timeoutMs : Number.POSITIVE_INFINITY;
    }

    onValue(value: unknown): void {
      this.settle({ ok: true, value, ms: performance.now() - this.began });
    }

    onError(error: unknown): void {
      this.settle({ ok: false, error, ms: performance.now() - this.began, timedOut: false });
    }

    expire(): void {
      this.settle({ ok: false, error: new RollcallTimeoutError(options.shadowTimeoutMs), ms: performance.now() - this.began, timedOut: true });
    }

    private settle(outcome: Outcome): void {
      if (this.settled) return;
      this.settled = true;
      if (this.slot >= 0) this.unwatch();
      this.run.arrive(this.index, outcome);
    }

    private unwatch(): void {
      const last = watched.pop()!;
      if (last !== this) {
        watched[this.slot] = last;
        last.slot = this.slot;
      }
      this.slot = -1;
    }

    watch(result: unknown): void {
      if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
        this.onValue(result);
        return;
      }
      if (this.deadline !== Number.POSITIVE_INFINITY) {
        this.slot = watched.push(this) - 1;
        if (deadlineTimer === null) {
          deadlineTimer = setInterval(checkDeadlines, Math.min(50, options.shadowTimeoutMs));
          deadlineTimer.unref();
        }
      }
      void watchPromise(this, result as PromiseLike<unknown>);
    }
  }

  /** The authoritative outcome, the candidate's and (when learning noise) a second old run's; compared when all are in. */
  class ShadowRun {
    readonly outcomes: [Outcome | null, Outcome | null, Outcome | null] = [null, null, null];
    private missing: number;

    constructor(
      readonly rolloutKey: string,
      readonly message: MessageRef,
      readonly target: Cell,
      readonly authoritative: 'old' | 'new',
      readonly handlers: Handlers<unknown>,
      readonly compare: RunCompareOptions | undefined,
      readonly learn: boolean,
    ) {
      this.missing = learn ? 3 : 2;
      active += learn ? 2 : 1;
    }

    arrive(index: 0 | 1 | 2, outcome: Outcome): void {
      this.outcomes[index] = outcome;
      if (--this.missing > 0) return;
      comparisons.push(this);
      if (!draining) {
        draining = true;
        setImmediate(drain);
      }
    }

    start(): void {
      const candidate = this.authoritative === 'old' ? 'new' : 'old';
      this.call(1, this.handlers[candidate], SHADOW_CONTEXTS[candidate]);
      if (this.learn) this.call(2, this.handlers.old, SHADOW_CONTEXTS.old);
    }

    private call(index: 1 | 2, handler: Handler<unknown>, context: HandlerContext): void {
      const call = new CandidateCall(this, index, options.shadowTimeoutMs);
      try {
        call.watch(handler(context));
      } catch (error) {
        call.onError(error);
      }
    }

    finish(): void {
      try {
        compareOutcomes(this.rolloutKey, this.message, this.target, this.authoritative, this.compare, this.outcomes as [Outcome, Outcome, Outcome | null]);
      } catch {
        reporter.compared(this.target, null, null);
      } finally {
        active -= this.learn ? 2 : 1;
      }
    }
  }

  /** Starts a shadow run; returns where the authoritative outcome goes. */
  function shadow(rolloutKey: string, message: MessageRef, target: Cell, authoritative: 'old' | 'new', handlers: Handlers<unknown>, compare: RunCompareOptions | undefined): ShadowRun {
    const learn = authoritative === 'old' && (compare?.learnNoise ?? 0) > random();
    const run = new ShadowRun(rolloutKey, message, target, authoritative, handlers, compare, learn);
    starts.push(run);
    if (!startScheduled) {
      startScheduled = true;
      setImmediate(startAll);
    }
    return run;
  }

  function compareOutcomes(
    rolloutKey: string,
    message: MessageRef,
    target: Cell,
    authoritative: 'old' | 'new',
    compare: RunCompareOptions | undefined,
    [main, other, again]: [Outcome, Outcome, Outcome | null],
  ): void {
    const candidate = authoritative === 'old' ? 'new' : 'old';
    const comparator = comparatorFor(compare);
    const learned = noiseFor(rolloutKey);
    if (again !== null && main.ok && again.ok) {
      const paths = comparator.noiseBetween(main.value, again.value, learned);
      if (paths.length > 0) {
        for (const p of paths) learned.add(p);
        reporter.noise(rolloutKey, paths.map(formatPath));
      }
    }
    const oldOutcome = authoritative === 'old' ? main : other;
    const newOutcome = authoritative === 'old' ? other : main;
    let kind: MismatchKind | null = null;
    let diffs = [] as ReturnType<Comparator['compare']>['diffs'];
    if (!other.ok && other.timedOut) {
      kind = 'timeout';
      diffs = [{ path: '$', [candidate]: `no result within ${options.shadowTimeoutMs} ms` }];
    } else if (oldOutcome.ok !== newOutcome.ok) {
      kind = 'error';
      const view = (o: Outcome) => (o.ok ? o.value : describeError(o.error));
      diffs = comparator.compare(view(oldOutcome), view(newOutcome), learned).diffs;
    } else if (oldOutcome.ok && newOutcome.ok) {
      if (!reporter.wantsSample(target)) {
        // The window holds enough samples already: find out whether they differ, build no diff.
        reporter.compared(target, null, other.ms, !comparator.equal(oldOutcome.value, newOutcome.value, learned));
        return;
      }
      const result = comparator.compare(oldOutcome.value, newOutcome.value, learned);
      if (!result.equal) {
        kind = 'diff';
        diffs = result.diffs;
      }
    }
    const sample =
      kind === null ? null : { rollout: rolloutKey, cohort: target.cohort, messageId: wireId(message.messageId), partnerId: wireId(message.partnerId), authoritative, kind, diffs, at: Date.now() };
    reporter.compared(target, sample, other.ms);
  }

  return {
    get activeComparisons(): number {
      return active;
    },

    async run<T>(rolloutKey: string, message: MessageRef, handlers: Handlers<T>, runOptions?: RunOptions): Promise<T> {
      const partnerId = message?.partnerId;
      const messageId = message?.messageId;
      if (!evaluator.route(rolloutKey, partnerId, route) || typeof messageId !== 'string' || messageId === '') {
        // Unknown rollout (or no message id to account by): the old path, uncounted.
        return invoke(handlers.old, CONTEXTS.old, runOptions?.timeoutMs);
      }
      const path = route.path;
      const target = reporter.cell(rolloutKey, route.cohort, path);
      const authoritative = path === 'new' ? 'new' : 'old';
      const began = performance.now();
      const record = reporter.begin(target, messageId, partnerId, began);
      let compared = path === 'shadow';
      if (path === 'new') {
        const share = evaluator.verifyShare(rolloutKey);
        compared = share > 0 && random() < share;
      }
      let shadowRun: ShadowRun | undefined;
      if (compared) {
        if (active < options.maxConcurrentComparisons) {
          shadowRun = shadow(rolloutKey, { partnerId, messageId }, target, authoritative, handlers as Handlers<unknown>, runOptions?.compare ?? options.compareFor(rolloutKey));
        } else {
          reporter.skipped(target);
        }
      }
      try {
        const value = await invoke(handlers[authoritative], CONTEXTS[authoritative], runOptions?.timeoutMs);
        const now = performance.now();
        reporter.settle(record, true, now, undefined, now - began);
        shadowRun?.arrive(0, { ok: true, value, ms: now - began });
        return value;
      } catch (error) {
        const now = performance.now();
        reporter.settle(record, false, now, error instanceof Error ? `${error.name}: ${error.message}` : String(error), now - began);
        shadowRun?.arrive(0, { ok: false, error, ms: now - began, timedOut: error instanceof RollcallTimeoutError });
        throw error;
      }
    },
  };
}
