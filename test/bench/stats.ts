/** Small statistics for benchmarks: medians over rounds, percentiles over samples. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

const started = performance.now();

/** Prints progress to stderr, with the seconds since the run began, so that the table on stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`  · ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  ${message}\n`);
}

/** A full collection before a timed section (when node runs with --expose-gc), so no one pays for another's garbage. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
