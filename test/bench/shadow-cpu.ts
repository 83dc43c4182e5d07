/**
 * `shadow_cpu_us`: the CPU time (user + system, `process.cpuUsage`) the
 * process spends per shadow message, which unlike a p99 on a shared machine
 * does not move with the neighbours' load. Outputs of about 1 KB and 10 KB,
 * equal and differing, through Rollcall's shadow and through a hand-written
 * one: the authoritative call through the same old-only client, the candidate
 * awaited after it, the outputs compared with `util.isDeepStrictEqual` and a
 * mismatch counted (it builds no diff). The eight kinds run in interleaved
 * rounds; the figure is the median over rounds.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigSnapshot } from '@rollcall/sdk';
import { createClient } from '@rollcall/sdk';
import { offlineClient } from './evaluation.ts';
import { collectGarbage, median, progress } from './stats.ts';

const snapshot = (state: 'running' | 'draft'): ConfigSnapshot => ({
  version: 1,
  rollouts: [{ key: 'job', salt: 'job', state, reason: null, version: 1, step: 0, live: 0, shadow: state === 'running' ? 10_000 : 0, verify: 0, cohorts: [], pins: [] }],
});

/** An invoice-like output of about `kb` kilobytes; `variant` 1 differs from 0 in two leaves (one deep, one at the top). */
function output(kb: number, seq: number, variant: 0 | 1) {
  const items = Array.from({ length: Math.max(1, Math.round((kb * 1024 - 160) / 96)) }, (_, i) => ({
    sku: `sku-${String(i).padStart(5, '0')}`,
    name: `item number ${i}`,
    qty: (i % 7) + 1,
    price: 1_000 + i,
    tags: ['a', 'b'],
  }));
  if (variant === 1) items[items.length - 1]!.qty += 1;
  return { id: `inv-${seq}`, type: 'invoice.paid', partner: 'p1', currency: 'EUR', meta: { source: 'bench', version: 3 }, items, total: variant === 1 ? 31 : 30 };
}

const POOL = 32;
const CASES = [
  { name: 'equal_1kb', kb: 1, differ: false },
  { name: 'differing_1kb', kb: 1, differ: true },
  { name: 'equal_10kb', kb: 10, differ: false },
  { name: 'differing_10kb', kb: 10, differ: true },
] as const;
type CaseName = (typeof CASES)[number]['name'];

/** Resolves once the event loop has been idle (under 2 % busy) for 20 ms: the work queued has been done. */
async function settled(): Promise<void> {
  for (;;) {
    const start = performance.eventLoopUtilization();
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (performance.eventLoopUtilization(start).utilization < 0.02) return;
  }
}

export async function measureShadowCpu(options: { messages: number; rounds: number; batch?: number }) {
  // No cap on comparisons at once: every message is compared and counted, none skipped as busy.
  const shadowed = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'bench', bootstrap: snapshot('running'), fetch: () => Promise.reject(new TypeError('offline')), logger: { warn() {}, error() {} }, flushIntervalMs: 1_000, maxConcurrentComparisons: 1_000_000 });
  const oldOnly = offlineClient(snapshot('draft'));
  await Promise.all([shadowed.ready(), oldOnly.ready()]);
  const batch = options.batch ?? 100;
  const perRound = Math.ceil(options.messages / options.rounds);
  const samples: Record<string, number[]> = {};
  let mismatches = 0;

  for (let r = 0; r < options.rounds; r++) {
    progress(`shadow CPU round ${r + 1}/${options.rounds}: ${perRound.toLocaleString()} messages of each of 8 kinds`);
    const kinds = CASES.flatMap((c) => [{ c, who: 'rollcall' as const }, { c, who: 'handwritten' as const }]);
    // Rotate the order each round so no kind always runs first, or right after another's garbage.
    for (let k = 0; k < kinds.length; k++) {
      const { c, who } = kinds[(k + r) % kinds.length]!;
      // Distinct objects per call (never the same reference twice in a row), built before timing.
      const olds = Array.from({ length: POOL }, (_, i) => output(c.kb, i, 0));
      const news = Array.from({ length: POOL }, (_, i) => output(c.kb, i, c.differ ? 1 : 0));
      let o = 0;
      let n = 0;
      const handlers = { old: async () => olds[o++ % POOL]!, new: async () => news[n++ % POOL]! };
      const oldOnlyHandlers = { old: handlers.old, new: handlers.old };
      const handwritten = async (message: { partnerId: string; messageId: string }) => {
        const authoritative = await oldOnly.run('job', message, oldOnlyHandlers);
        const candidate = await handlers.new();
        if (!isDeepStrictEqual(authoritative, candidate)) mismatches++;
        return authoritative;
      };
      collectGarbage();
      const before = process.cpuUsage();
      for (let i = 0; i < perRound; i += batch) {
        const calls: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(perRound, i + batch); j++) {
          const message = { partnerId: `p${j % 997}`, messageId: `${c.name}-${r}-${j}` };
          calls.push(who === 'rollcall' ? shadowed.run('job', message, handlers) : handwritten(message));
        }
        await Promise.all(calls);
        // A service yields to I/O between messages; without a turn of the loop no candidate would ever start.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Rollcall compares in later turns of the event loop: every comparison finishes inside the measurement.
      await settled();
      const used = process.cpuUsage(before);
      if (n !== perRound) throw new Error(`${who} ${c.name}: ${perRound - n} candidates were not run`);
      (samples[`${who}_${c.name}`] ??= []).push((used.user + used.system) / perRound);
    }
  }
  await Promise.all([shadowed.close(), oldOnly.close()]);
  const expected = CASES.filter((c) => c.differ).length * perRound * options.rounds;
  if (mismatches !== expected) throw new Error(`the hand-written shadow counted ${mismatches} mismatches, expected ${expected}`);
  const result = {} as Record<CaseName, { rollcall_us: number; handwritten_us: number; ratio: number }>;
  for (const c of CASES) {
    const rollcall = median(samples[`rollcall_${c.name}`]!);
    const handwritten = median(samples[`handwritten_${c.name}`]!);
    result[c.name] = { rollcall_us: rollcall, handwritten_us: handwritten, ratio: rollcall / handwritten };
  }
  return { cases: result, messages: perRound * options.rounds, rounds: options.rounds };
}
