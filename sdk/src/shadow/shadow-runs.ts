/**
 * Shadow runs: the candidate calls beside an authoritative one, their
 * deadlines, and the queue of comparisons to make. Work waits in two queues
 * worked through in later turns of the event loop: candidates to start, and
 * comparisons to make (a slice at a time, so that a burst of them never holds
 * up the timers and I/O callers wait on). A caller that awaits one `run()`
 * after another with handlers that settle at once never gives the loop such a
 * turn, so at the comparison limit the runner works the queues through at once
 * (`step`) before it counts a comparison as skipped.
 */
import type { Cell } from '../reporting/counters.ts';
import { RollcallTimeoutError, type Handler, type HandlerContext, type Handlers, type MessageRef, type Outcome, type RunCompareOptions } from './handlers.ts';

/** The contexts handlers receive: frozen and shared, so that no call allocates one. */
export const CONTEXTS: Record<'old' | 'new', Readonly<HandlerContext>> = { old: Object.freeze({ path: 'old', shadow: false }), new: Object.freeze({ path: 'new', shadow: false }) };
const SHADOW_CONTEXTS: Record<'old' | 'new', Readonly<HandlerContext>> = { old: Object.freeze({ path: 'old', shadow: true }), new: Object.freeze({ path: 'new', shadow: true }) };

const SLICE_MS = 0.1;

/**
 * Waits for a candidate's promise and reports to its call. A module-level
 * function rather than two closures per call: under a transform that keeps
 * function names (tsx, esbuild's keepNames) every closure created per call
 * also costs a defineProperty, and the allocations feed the garbage collector.
 */
async function watchPromise(call: CandidateCall, promise: PromiseLike<unknown>): Promise<void> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    call.onError(error);
    return;
  }
  call.onValue(value);
}

/** One candidate call: settles its run's slot once, by value, error or deadline. */
class CandidateCall {
  readonly deadline: number;
  private readonly began = performance.now();
  private settled = false;
  /** Index in the scheduler's `watched` while under a deadline. */
  slot = -1;

  constructor(
    private readonly runs: ShadowRuns,
    private readonly run: ShadowRun,
    private readonly index: 1 | 2,
  ) {
    const timeoutMs = runs.shadowTimeoutMs;
    this.deadline = timeoutMs > 0 ? this.began + timeoutMs : Number.POSITIVE_INFINITY;
  }

  onValue(value: unknown): void {
    this.settle({ ok: true, value, ms: performance.now() - this.began });
  }

  onError(error: unknown): void {
    this.settle({ ok: false, error, ms: performance.now() - this.began, timedOut: false });
  }

  expire(): void {
    this.settle({ ok: false, error: new RollcallTimeoutError(this.runs.shadowTimeoutMs), ms: performance.now() - this.began, timedOut: true });
  }

  private settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.slot >= 0) this.runs.unwatch(this);
    this.run.arrive(this.index, outcome);
  }

  watch(result: unknown): void {
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
      this.onValue(result);
      return;
    }
    if (this.deadline !== Number.POSITIVE_INFINITY) this.runs.watch(this);
    void watchPromise(this, result as PromiseLike<unknown>);
  }
}

/** The authoritative outcome, the candidate's and (when learning noise) a second old run's; compared when all are in. */
export class ShadowRun {
  readonly outcomes: [Outcome | null, Outcome | null, Outcome | null] = [null, null, null];
  private missing: number;

  constructor(
    private readonly runs: ShadowRuns,
    readonly rolloutKey: string,
    readonly message: MessageRef,
    readonly target: Cell,
    readonly authoritative: 'old' | 'new',
    readonly handlers: Handlers<unknown>,
    readonly compare: RunCompareOptions | undefined,
    readonly learn: boolean,
  ) {
    this.missing = learn ? 3 : 2;
  }

  arrive(index: 0 | 1 | 2, outcome: Outcome): void {
    this.outcomes[index] = outcome;
    if (--this.missing > 0) return;
    this.runs.complete(this);
  }

  start(): void {
    const candidate = this.authoritative === 'old' ? 'new' : 'old';
    this.call(1, this.handlers[candidate], SHADOW_CONTEXTS[candidate]);
    if (this.learn) this.call(2, this.handlers.old, SHADOW_CONTEXTS.old);
  }

  private call(index: 1 | 2, handler: Handler<unknown>, context: HandlerContext): void {
    const call = new CandidateCall(this.runs, this, index);
    try {
      call.watch(handler(context));
    } catch (error) {
      call.onError(error);
    }
  }
}

/** Starts shadow runs, watches their candidates' deadlines, and hands each finished run to `finish`. */
export class ShadowRuns {
  private readonly starts: ShadowRun[] = [];
  private readonly comparisons: ShadowRun[] = [];
  private startScheduled = false;
  private draining = false;
  // Candidate deadlines are checked by one timer, not one timer per candidate. The
  // calls under a deadline sit in an array, each knowing its slot, and leave it by
  // swapping in the last. Not a Set: a Set with this churn keeps rehashing into new
  // tables, each linked from the one before, and once one of those is promoted every
  // later one is copied by each scavenge (measured in the shadow benchmark: 1.4 MB
  // promoted per scavenge instead of 0.05, and 4-6 ms pauses instead of 1).
  private readonly watched: CandidateCall[] = [];
  private deadlineTimer: NodeJS.Timeout | null = null;
  private readonly startAll = () => {
    this.startScheduled = false;
    for (const run of this.starts.splice(0)) run.start();
  };
  private readonly drain = () => {
    const until = performance.now() + SLICE_MS;
    while (this.comparisons.length > 0 && performance.now() < until) this.finish(this.comparisons.shift()!);
    if (this.comparisons.length > 0) setImmediate(this.drain);
    else this.draining = false;
  };
  private readonly checkDeadlines = () => {
    const now = performance.now();
    // From the end: an expired call swaps in the last, which has been looked at already.
    for (let i = this.watched.length - 1; i >= 0; i--) if (now >= this.watched[i]!.deadline) this.watched[i]!.expire();
    if (this.watched.length === 0 && this.deadlineTimer !== null) {
      clearInterval(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  };

  constructor(
    readonly shadowTimeoutMs: number,
    private readonly finish: (run: ShadowRun) => void,
  ) {}

  /** A run whose candidate starts in a later turn; returns where the authoritative outcome goes. */
  start(rolloutKey: string, message: MessageRef, target: Cell, authoritative: 'old' | 'new', handlers: Handlers<unknown>, compare: RunCompareOptions | undefined, learn: boolean): ShadowRun {
    const run = new ShadowRun(this, rolloutKey, message, target, authoritative, handlers, compare, learn);
    this.starts.push(run);
    if (!this.startScheduled) {
      this.startScheduled = true;
      setImmediate(this.startAll);
    }
    return run;
  }

  /**
   * Does one piece of queued work now instead of in its later turn: makes the
   * oldest comparison waiting, or else starts the oldest candidate waiting.
   * False when both queues are empty. The turns already scheduled find less to do.
   */
  step(): boolean {
    const run = this.comparisons.shift();
    if (run !== undefined) {
      this.finish(run);
      return true;
    }
    const next = this.starts.shift();
    if (next === undefined) return false;
    next.start();
    return true;
  }

  complete(run: ShadowRun): void {
    this.comparisons.push(run);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  watch(call: CandidateCall): void {
    call.slot = this.watched.push(call) - 1;
    if (this.deadlineTimer === null) {
      this.deadlineTimer = setInterval(this.checkDeadlines, Math.min(50, this.shadowTimeoutMs));
      this.deadlineTimer.unref();
    }
  }

  unwatch(call: CandidateCall): void {
    const last = this.watched.pop()!;
    if (last !== call) {
      this.watched[call.slot] = last;
      last.slot = call.slot;
    }
    call.slot = -1;
  }
}
