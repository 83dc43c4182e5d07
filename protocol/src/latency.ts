/**
 * Latency histograms with log-spaced slots: slot i holds durations up to
 * 2^(i/4) microseconds (a 19% step), from 1 µs to about 18 minutes. Sent
 * sparse as [slot, count, …]; a percentile is read as its slot's upper edge.
 */
export const SLOTS = 121;

export function latencySlot(ms: number): number {
  if (!(ms > 0.001)) return 0;
  const slot = Math.ceil(4 * Math.log2(ms * 1000));
  return slot >= SLOTS ? SLOTS - 1 : slot;
}

export function slotUpperMs(slot: number): number {
  return 2 ** (slot / 4) / 1000;
}

/** Dense counts to the sparse wire form. */
export function sparse(histogram: Uint32Array): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < histogram.length; i++) if (histogram[i]! > 0) out.push(i, histogram[i]!);
  return out.length === 0 ? undefined : out;
}

/** The q-quantile (0..1) of a histogram given as slot → count, in ms; null when empty. */
export function quantile(counts: ReadonlyMap<number, number>, q: number): number | null {
  let total = 0;
  for (const c of counts.values()) total += c;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const slot of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(slot)!;
    if (seen >= rank) return slotUpperMs(slot);
  }
  return null;
}
