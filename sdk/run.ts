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
import type { MismatchKind } from './wire.ts';

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

async function outcomeOf<T>(handler: Handler<T>, context: HandlerContext, timeoutMs: number): Promise<Outcome> {
  const began = performance.now();
  try {
    const value = await invoke(handler, context, timeoutMs);
    return { ok: true, value, ms: performance.now() - began };
  } catch (error) {
    return { ok: false, error, ms: performance.now() - began, timedOut: error instanceof RollcallTimeoutError };
  }
}

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

  /**
   * Starts the candidate (and, on a sample, a second run of old to learn noise)
   * once the authoritative call is under way; compares when both are known.
   */
  function shadow<T>(
    rolloutKey: string,
    message: MessageRef,
    target: Cell,
    authoritative: 'old' | 'new',
    handlers: Handlers<T>,
    compare: RunCompareOptions | undefined,
    authoritativeOutcome: Promise<Outcome>,
  ): void {
    const candidate = authoritative === 'old' ? 'new' : 'old';
    const learn = authoritative === 'old' && (compare?.learnNoise ?? 0) > random();
    active += learn ? 2 : 1;
    setImmediate(() => {
      const timeout = options.shadowTimeoutMs;
      const candidateOutcome = outcomeOf(handlers[candidate], { path: candidate, shadow: true }, timeout);
      const rerun = learn ? outcomeOf(handlers.old, { path: 'old', shadow: true }, timeout) : null;
      void Promise.all([authoritativeOutcome, candidateOutcome, rerun])
        // Compare in a later turn of the event loop, never inside a caller's chain of continuations.
        .then((outcomes) => new Promise<typeof outcomes>((resolve) => setImmediate(resolve, outcomes)))
        .then(([main, other, again]) => {
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
            diffs = [{ path: '$', [candidate]: `no result within ${timeout} ms` }];
          } else if (oldOutcome.ok !== newOutcome.ok) {
            kind = 'error';
            const view = (o: Outcome) => (o.ok ? o.value : describeError(o.error));
            diffs = comparator.compare(view(oldOutcome), view(newOutcome), learned).diffs;
          } else if (oldOutcome.ok && newOutcome.ok) {
            const result = comparator.compare(oldOutcome.value, newOutcome.value, learned);
            if (!result.equal) {
              kind = 'diff';
              diffs = result.diffs;
            }
          }
          const sample =
            kind === null
              ? null
              : { rollout: rolloutKey, cohort: target.cohort, messageId: message.messageId, partnerId: message.partnerId, authoritative, kind, diffs, at: Date.now() };
          reporter.compared(target, sample, other.ms);
        })
        .catch(() => reporter.compared(target, null, null))
        .finally(() => {
          active -= learn ? 2 : 1;
        });
    });
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
        return invoke(handlers.old, { path: 'old', shadow: false }, runOptions?.timeoutMs);
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
      let settle: ((outcome: Outcome) => void) | undefined;
      if (compared) {
        if (active < options.maxConcurrentComparisons) {
          const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
          shadow(rolloutKey, { partnerId, messageId }, target, authoritative, handlers, runOptions?.compare ?? options.compareFor(rolloutKey), outcome);
        } else {
          reporter.skipped(target);
        }
      }
      try {
        const value = await invoke(handlers[authoritative], { path: authoritative, shadow: false }, runOptions?.timeoutMs);
        const now = performance.now();
        reporter.settle(record, true, now, undefined, now - began);
        settle?.({ ok: true, value, ms: now - began });
        return value;
      } catch (error) {
        const now = performance.now();
        reporter.settle(record, false, now, error instanceof Error ? `${error.name}: ${error.message}` : String(error), now - began);
        settle?.({ ok: false, error, ms: now - began, timedOut: error instanceof RollcallTimeoutError });
        throw error;
      }
    },
  };
}
