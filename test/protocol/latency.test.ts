import { describe, expect, it } from 'vitest';
import { latencySlot, quantile, slotUpperMs, SLOTS, sparse } from '@rollcall/protocol';

describe('latency slots', () => {
  it('places a duration in slot ceil(4 × log2(µs)): 0 at or below 1 µs, capped at the last slot', () => {
    expect(SLOTS).toBe(121);
    expect(latencySlot(0)).toBe(0);
    expect(latencySlot(0.001)).toBe(0);
    expect(latencySlot(-5)).toBe(0);
    expect(latencySlot(Number.NaN)).toBe(0);
    expect(latencySlot(0.002)).toBe(4);
    expect(latencySlot(1)).toBe(Math.ceil(4 * Math.log2(1000)));
    expect(latencySlot(1e9)).toBe(SLOTS - 1);
  });

  it("holds every duration at or below its slot's upper edge and above the previous slot's", () => {
    for (const ms of [0.0015, 0.01, 0.37, 1, 2.5, 17, 250, 1_000, 60_000]) {
      const slot = latencySlot(ms);
      expect(slotUpperMs(slot) * (1 + 1e-12), `${ms} ms`).toBeGreaterThanOrEqual(ms);
      expect(slotUpperMs(slot - 1), `${ms} ms`).toBeLessThan(ms);
    }
  });

  it('sends a histogram sparse, as [slot, count, …] pairs, and nothing when it is empty', () => {
    const histogram = new Uint32Array(SLOTS);
    expect(sparse(histogram)).toBeUndefined();
    histogram[3] = 2;
    histogram[40] = 7;
    expect(sparse(histogram)).toEqual([3, 2, 40, 7]);
  });

  it("reads a quantile as its slot's upper edge, and none from an empty histogram", () => {
    expect(quantile(new Map(), 0.5)).toBeNull();
    const counts = new Map([[40, 1], [10, 98], [60, 1]]);
    expect(quantile(counts, 0.5)).toBe(slotUpperMs(10));
    expect(quantile(counts, 0.99)).toBe(slotUpperMs(40));
    expect(quantile(counts, 1)).toBe(slotUpperMs(60));
  });
});
