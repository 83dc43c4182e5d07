/** Exponential backoff with jitter: `first` ms, doubling, capped; each delay drawn from [½·d, d]. */
export function backoffDelay(attempt: number, first: number, cap: number, random: () => number = Math.random): number {
  const ceiling = Math.min(cap, first * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
