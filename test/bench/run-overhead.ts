/**
 * run() on the live path against calling the handler directly, message by
 * message, and the shadow contract: the caller's p99 with a slower candidate
 * running beside the old path, against old-only.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigSnapshot } from '@rollcall/sdk';
import { offlineClient } from './evaluation.ts';
import { collectGarbage, median, percentile, progress } from './stats.ts';

const rollout = (state: 'running' | 'draft', shadow: number, live: number): ConfigSnapshot => ({
  version: 1,
  rollouts: [
    {
      key: 'job',
      salt: 'job',
      state,
      reason: null,
      version: 1,
      step: 0,
      live,
      shadow,
      verify: 0,
      cohorts: live > 0 ? [{ name: 'c1', from: 0, to: live, status: 'active' }] : [],
      pins: [],
    },
  ],
});

export async function measureRunOverhead(options: { messages: number; rounds: number }) {
  const rc = offlineClient(rollout('running', 0, 10_000));
  await rc.ready();
  const handler = (_context?: unknown) => 1;
  const handlers = { old: handler, new: handler };
  // The messages exist before either loop: the caller has them whether or not it uses run().
  const messages = Array.from({ length: options.messages }, (_, i) => ({ partnerId: `p${i & 1023}`, messageId: `m${i}` }));
  const overheads: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    progress(`run() overhead round ${r + 1}/${options.rounds}, ${options.messages.toLocaleString()} messages`);
    let sum = 0;
    collectGarbage();
    let started = process.hrtime.bigint();
    for (let i = 0; i < options.messages; i++) sum += await handler(messages[i]);
    const direct = Number(process.hrtime.bigint() - started);
    collectGarbage();
    started = process.hrtime.bigint();
    for (let i = 0; i < options.messages; i++) sum += await rc.run('job', messages[i]!, handlers);
    const viaRun = Number(process.hrtime.bigint() - started);
    if (sum === -1) console.log(sum);
    overheads.push((viaRun - direct) / options.messages);
  }
  await rc.close();
  return { run_overhead_ns: median(overheads) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const handlers = {
  old: async () => {
    await sleep(2);
    return { type: 'invoice.paid', items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }], total: 30 };
  },
  // The candidate is three times slower and its output differs on every message, in
  // its last field (a mismatch each time, found only after walking everything, and as
  // many samples as a window keeps): none of it may reach the caller.
  new: async () => {
    await sleep(6);
    return { type: 'invoice.paid', items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }], total: 31 };
  },
};

type Caller = (i: number) => Promise<unknown>;

const MODES = ['old', 'shadow', 'handwritten', 'bare'] as const;
type Mode = (typeof MODES)[number];
const samplesByMode = (): Record<Mode, number[]> => ({ old: [], shadow: [], handwritten: [], bare: [] });

async function block(call: Caller, messages: number, concurrency: number, into: number[], offset: number): Promise<void> {
  let next = 0;
  async function worker() {
    while (next < messages) {
      const i = offset + next++;
      const began = performance.now();
      await call(i);
      into.push(performance.now() - began);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * Four kinds of caller in alternating short blocks, so that the machine's
 * noise (this is a shared 2-core VM) falls on all alike:
 * - old: old-only through Rollcall (the baseline of the ratio);
 * - shadow: shadow through Rollcall;
 * - handwritten: the least any in-process shadow must do, written by hand:
 *   the old path through the same old-only client, the candidate started
 *   after it, both awaited, the outputs compared with `util.isDeepStrictEqual`
 *   and the mismatches counted (the floor for Rollcall's shadow);
 * - bare: the candidate started beside a direct call of the old handler,
 *   nothing awaited or compared (the cost of running a candidate at all).
 * Between blocks the candidates still running are let finish.
 */
export async function measureShadow(options: { blocks: number; blockSize: number; rounds: number }) {
  const oldOnly = offlineClient(rollout('draft', 0, 0));
  const shadowed = offlineClient(rollout('running', 10_000, 0));
  await Promise.all([oldOnly.ready(), shadowed.ready()]);
  let handwrittenMismatches = 0;
  const callers: Record<Mode, Caller> = {
    old: (i) => oldOnly.run('job', { partnerId: `p${i % 997}`, messageId: `s${i}` }, handlers),
    shadow: (i) => shadowed.run('job', { partnerId: `p${i % 997}`, messageId: `s${i}` }, handlers),
    handwritten: (i) => {
      const authoritative = oldOnly.run('job', { partnerId: `p${i % 997}`, messageId: `s${i}` }, handlers);
      setImmediate(() => {
        void Promise.all([authoritative, handlers.new()]).then(([a, b]) => {
          if (!isDeepStrictEqual(a, b)) handwrittenMismatches++;
        });
      });
      return authoritative;
    },
    bare: () => {
      setImmediate(() => void handlers.new());
      return handlers.old();
    },
  };
  const pooled = samplesByMode();
  const ratios: number[] = [];
  let offset = 0;
  for (let r = 0; r < options.rounds; r++) {
    if (r % 5 === 0) progress(`shadow rounds ${r + 1}-${Math.min(r + 5, options.rounds)}/${options.rounds}: ${options.blocks} alternating blocks of ${options.blockSize} messages`);
    const pools = samplesByMode();
    for (let b = 0; b < options.blocks; b++) {
      const mode = MODES[(b + r) % MODES.length]!;
      await block(callers[mode], options.blockSize, 10, pools[mode], offset);
      offset += options.blockSize;
      await sleep(12);
    }
    for (const mode of MODES) pooled[mode].push(...pools[mode]);
    ratios.push(percentile(pools.shadow, 99) / percentile(pools.old, 99));
  }
  await Promise.all([oldOnly.close(), shadowed.close()]);
  // The figure: p99 over every sample of each kind (the blocks interleave, so each kind saw the
  // same stretches of machine noise); the median of the per-round ratios is kept for context.
  const oldP99 = percentile(pooled.old, 99);
  await sleep(100); // the last candidates finish
  if (handwrittenMismatches !== pooled.handwritten.length) throw new Error(`the hand-written shadow counted ${handwrittenMismatches} mismatches of ${pooled.handwritten.length}`);
  return {
    shadow_p99_ratio: percentile(pooled.shadow, 99) / oldP99,
    handwritten_p99_ratio: percentile(pooled.handwritten, 99) / oldP99,
    bare_p99_ratio: percentile(pooled.bare, 99) / oldP99,
    round_median_ratio: median(ratios),
    old_p99_ms: oldP99,
    shadow_p99_ms: percentile(pooled.shadow, 99),
    samples: pooled.old.length,
    shadow_rounds: options.rounds,
  };
}
