/** The client's timers: every one unref()ed but ready()'s, all cleared together on close. */
export function createTimers() {
  const timers: NodeJS.Timeout[] = [];
  return {
    /**
     * Runs `fn` every `ms`, the first time after a random part of `ms`: many
     * instances started together (a deploy) then report spread over the
     * interval instead of all at once.
     */
    every(ms: number, fn: () => void): void {
      const first = setTimeout(() => {
        fn();
        const timer = setInterval(fn, ms);
        timer.unref();
        timers.push(timer);
      }, Math.floor(Math.random() * ms));
      first.unref();
      timers.push(first);
    },
    clear(): void {
      for (const timer of timers) clearInterval(timer);
    },
  };
}

/**
 * `ready()`: settles once, by `settle()` or when `timeoutMs` has passed (then
 * with what `onTimeout` says: nothing to resolve, an error to reject). Its
 * timer is not unref()ed: a host awaiting ready() waits for it.
 */
export function readyLatch(timeoutMs: number, onTimeout: () => Error | undefined) {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  let settled = false;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  const timer = setTimeout(() => settle(onTimeout()), timeoutMs);
  function settle(error?: Error): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error === undefined) resolve();
    else reject(error);
  }
  return { promise, settle };
}
