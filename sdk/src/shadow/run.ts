/**
 * `run()`: route a message, run its handler, count it; in a shadow cohort
 * (and for the `verify` share of live messages) run the other path beside
 * it and compare. The authoritative result or error is returned as soon as
 * that path settles. The candidate runs concurrently under its own timeout
 * and a concurrency cap, after the authoritative call has started, and
 * nothing it does can reach the caller.
 *
 * The cap (`maxConcurrentComparisons`) skips a comparison only under real
 * overload. Candidates and comparisons wait for a later turn of the event
 * loop, which a caller awaiting one `run()` after another with handlers that
 * settle at once never gives; so at the cap the queued work is done at once,
 * and a message that still finds no room is decided again when its own
 * handler has settled (fast async candidates settle meanwhile). It is skipped
 * only if candidates still hold every slot then.
 */
import { ERROR_FIELD, MORE_PATHS, PathSet, TIMEOUT_FIELD, wireId, type CompareRules, type MismatchKind, type MismatchSample, type Route } from '@rollcall/protocol';
import { createComparator, type Comparator } from './compare.ts';
import { mergeCompareRules } from './compare-rules.ts';
import type { Evaluator } from '../evaluation/evaluator.ts';
import type { Cell } from '../reporting/counters.ts';
import { RollcallTimeoutError, type Handler, type HandlerContext, type Handlers, type MessageRef, type Outcome, type RunCompareOptions, type RunOptions } from './handlers.ts';
import type { Reporter } from '../reporting/reporter.ts';
import { CONTEXTS, ShadowRun, ShadowRuns } from './shadow-runs.ts';

export { RollcallTimeoutError } from './handlers.ts';
export type { Handler, HandlerContext, Handlers, MessageRef, RunCompareOptions, RunOptions } from './handlers.ts';

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

const describeError = (error: unknown) => ({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });

export function createRunner(options: RunnerOptions) {
  const { evaluator, reporter, random } = options;
  const route: Route = { path: 'old', cohort: 'baseline' };
  const comparators = new WeakMap<object, WeakMap<object, Comparator>>();
  const NONE = {};
  const noise = new Map<string, PathSet>();
  let active = 0;

  /** The comparator for the code's options with the rollout's rules merged in, built once per pair. */
  function comparatorFor(compare: RunCompareOptions | undefined, rules: CompareRules | undefined): Comparator {
    let byRules = comparators.get(compare ?? NONE);
    if (byRules === undefined) comparators.set(compare ?? NONE, (byRules = new WeakMap()));
    let found = byRules.get(rules ?? NONE);
    if (found === undefined) byRules.set(rules ?? NONE, (found = createComparator(mergeCompareRules(compare, rules))));
    return found;
  }

  function noiseFor(rolloutKey: string): PathSet {
    let set = noise.get(rolloutKey);
    if (set === undefined) noise.set(rolloutKey, (set = new PathSet()));
    return set;
  }

  const runs = new ShadowRuns(options.shadowTimeoutMs, (run) => {
    try {
      compareOutcomes(run.rolloutKey, run.message, run.target, run.authoritative, run.compare, run.outcomes as [Outcome, Outcome, Outcome | null]);
    } catch (error) {
      // A comparison that throws (an output whose toJSON throws, a cyclic value) is a difference in `(error)`,
      // never equal: the mismatch guard fails closed. Describing the error may throw too: then no sample.
      let sample: MismatchSample | null = null;
      try {
        if (reporter.wantsSample(run.target)) {
          sample = { rollout: run.rolloutKey, cohort: run.target.cohort, messageId: wireId(run.message.messageId), partnerId: wireId(run.message.partnerId), authoritative: run.authoritative, kind: 'error', diffs: [{ path: '$', new: `the comparison threw: ${describeError(error).error}`.slice(0, 500) }], at: reporter.wallNow() };
        }
      } catch {
        sample = null;
      }
      reporter.compared(run.target, sample, null, [ERROR_FIELD]);
    } finally {
      active -= run.learn ? 2 : 1;
    }
  });

  /**
   * Whether one more comparison fits under the cap. At the cap the queued work
   * is done now, a comparison made or a candidate started at a time, until a
   * slot is free or nothing is left that could free one.
   */
  function room(): boolean {
    while (active >= options.maxConcurrentComparisons) if (!runs.step()) return false;
    return true;
  }

  /** A comparison that found no room before its authoritative call: started now if there is room, else skipped. */
  function admitLate(rolloutKey: string, message: MessageRef, target: Cell, authoritative: 'old' | 'new', handlers: Handlers<unknown>, compare: RunCompareOptions | undefined): ShadowRun | undefined {
    if (room()) return shadow(rolloutKey, message, target, authoritative, handlers, compare);
    reporter.skipped(target);
    return undefined;
  }

  /** Starts a shadow run; returns where the authoritative outcome goes. */
  function shadow(rolloutKey: string, message: MessageRef, target: Cell, authoritative: 'old' | 'new', handlers: Handlers<unknown>, compare: RunCompareOptions | undefined): ShadowRun {
    const learn = authoritative === 'old' && (compare?.learnNoise ?? 0) > random();
    active += learn ? 2 : 1;
    return runs.start(rolloutKey, message, target, authoritative, handlers, compare, learn);
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
    const comparator = comparatorFor(compare, evaluator.compareRules(rolloutKey));
    // Fields seen to differ between two old runs: they line up unordered arrays, nothing more.
    const learned = noiseFor(rolloutKey);
    if ((compare?.learnNoise ?? 0) > 0 && authoritative === 'old') {
      // Every comparison while learning is on tells the server so, double run or not: it holds
      // the shadow verdict back until enough double runs are in.
      const paths = again !== null && main.ok && again.ok ? comparator.differences(main.value, again.value, learned) : null;
      if (paths !== null) for (const p of paths) if (p !== MORE_PATHS) learned.add(p);
      reporter.noise(rolloutKey, paths);
    }
    const oldOutcome = authoritative === 'old' ? main : other;
    const newOutcome = authoritative === 'old' ? other : main;
    let kind: MismatchKind | null = null;
    let diffs = [] as ReturnType<Comparator['compare']>['diffs'];
    let paths: string[] | null = null;
    if (!other.ok && other.timedOut) {
      kind = 'timeout';
      diffs = [{ path: '$', [candidate]: `no result within ${options.shadowTimeoutMs} ms` }];
      paths = [TIMEOUT_FIELD];
    } else if (oldOutcome.ok !== newOutcome.ok) {
      kind = 'error';
      const view = (o: Outcome) => (o.ok ? o.value : describeError(o.error));
      diffs = comparator.compare(view(oldOutcome), view(newOutcome), learned).diffs;
      paths = [ERROR_FIELD];
    } else if (oldOutcome.ok && newOutcome.ok) {
      if (!reporter.wantsSample(target)) {
        // The window holds enough samples already: find which fields differ, build no diff.
        const fields = comparator.differences(oldOutcome.value, newOutcome.value, learned);
        reporter.compared(target, null, other.ms, fields.length > 0 ? fields : null);
        return;
      }
      const result = comparator.compare(oldOutcome.value, newOutcome.value, learned);
      if (!result.equal) {
        kind = 'diff';
        diffs = result.diffs;
        paths = result.paths;
      }
    }
    const sample =
      kind === null ? null : { rollout: rolloutKey, cohort: target.cohort, messageId: wireId(message.messageId), partnerId: wireId(message.partnerId), authoritative, kind, diffs, at: reporter.wallNow() };
    reporter.compared(target, sample, other.ms, paths);
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
      // No room yet: decided again once the authoritative call has settled.
      let undecided = false;
      if (compared) {
        if (active < options.maxConcurrentComparisons || room()) {
          shadowRun = shadow(rolloutKey, { partnerId, messageId }, target, authoritative, handlers as Handlers<unknown>, runOptions?.compare ?? options.compareFor(rolloutKey));
        } else {
          undecided = true;
        }
      }
      try {
        const value = await invoke(handlers[authoritative], CONTEXTS[authoritative], runOptions?.timeoutMs);
        const now = performance.now();
        reporter.settle(record, true, now, undefined, now - began);
        if (undecided) shadowRun = admitLate(rolloutKey, { partnerId, messageId }, target, authoritative, handlers as Handlers<unknown>, runOptions?.compare ?? options.compareFor(rolloutKey));
        shadowRun?.arrive(0, { ok: true, value, ms: now - began });
        return value;
      } catch (error) {
        const now = performance.now();
        reporter.settle(record, false, now, error instanceof Error ? `${error.name}: ${error.message}` : String(error), now - began);
        if (undecided) shadowRun = admitLate(rolloutKey, { partnerId, messageId }, target, authoritative, handlers as Handlers<unknown>, runOptions?.compare ?? options.compareFor(rolloutKey));
        shadowRun?.arrive(0, { ok: false, error, ms: now - began, timedOut: error instanceof RollcallTimeoutError });
        throw error;
      }
    },
  };
}
