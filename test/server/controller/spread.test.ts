/**
 * When more rollouts moved than a pass measures (a spread: health/measure-memo.ts), the others keep their
 * figures with their time, decide nothing, and are measured oldest first, each within `maxAgeMs`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spreadCount, type Spread } from '../../../server/health/measure-memo.ts';
import { createRollout, createTestApp, sendTraffic } from '../../helpers/test-app.ts';

describe('a spread pass', () => {
  it('never lets figures pass maxAgeMs while passes keep their pace, through bursts, lulls and random moves', () => {
    // The memo's choice, simulated: a rollout that moved is stale until measured (moving again or not); one that
    // did not move since it was measured is kept as it is, current as of each pass.
    const moves = fc.oneof(
      fc.constant('all' as const),
      fc.constant('none' as const),
      fc.record({ share: fc.double({ min: 0, max: 1, noNaN: true }), seed: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 50, max: 1_000 }),
        fc.integer({ min: 1_000, max: 5_000 }),
        fc.array(moves, { minLength: 10, maxLength: 40 }),
        (rollouts, limit, everyMs, maxAgeMs, passes) => {
          const spread: Spread = { limit, maxAgeMs, everyMs };
          let now = 0;
          const at = Array.from({ length: rollouts }, () => 0);
          const stale = Array.from({ length: rollouts }, () => false);
          let measured = 0;
          let moved = 0;
          for (const pass of passes) {
            now += everyMs;
            for (let i = 0; i < rollouts; i++) {
              const moves = pass === 'all' || (pass !== 'none' && ((i * 2_654_435_761 + pass.seed) % 1_000) / 1_000 < pass.share);
              if (moves) stale[i] = true;
            }
            const overdue: number[] = [];
            const deferrable: number[] = [];
            for (let i = 0; i < rollouts; i++) {
              if (!stale[i]) at[i] = now;
              else if (now - at[i]! > maxAgeMs) overdue.push(i);
              else deferrable.push(i);
            }
            // Never found past the bound: an earlier pass measured it in time.
            expect(overdue).toEqual([]);
            deferrable.sort((a, b) => at[a]! - at[b]!);
            const taken = spreadCount(
              deferrable.map((i) => now - at[i]!),
              limit,
              spread,
            );
            for (const i of deferrable.slice(0, taken)) {
              at[i] = now;
              stale[i] = false;
            }
            measured += taken;
            moved += deferrable.length;
          }
          // It measures a share, not all: with every rollout moving before every pass, fewer than all each pass.
          if (passes.every((p) => p === 'all') && rollouts > limit && maxAgeMs >= 4 * everyMs) expect(measured).toBeLessThan(moved);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('measures a share of the rollouts that moved, decides nothing on the carried ones, and reverts a breach within a second', async () => {
    const spread = { limit: 1, maxAgeMs: 1_000, everyMs: 250 };
    const t = await createTestApp({ deps: { controller: { spread } } });
    try {
      const keys = ['r1', 'r2', 'r3'];
      for (const key of keys) {
        await createRollout(t, key, { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 10 } });
        await t.call('POST', `/v1/rollouts/${key}/start`);
      }
      const { controller, health } = t.rollcall.services;
      const passes: { at: number; measured: number; carried: Set<string>; overdue: number }[] = [];
      const watch = health.measureWatched;
      health.measureWatched = async (...args: Parameters<typeof watch>) => {
        const result = await watch(...args);
        const [aggregates, options] = args;
        // What it did not carry is what a fresh measurement reads, at the same moment, on the same due lines.
        const fresh = await health.measureMany(aggregates, { now: options.now, horizons: options.horizons, settled: options.settled });
        for (const { rollout } of aggregates) if (!result.carried.has(rollout.id)) expect(result.health.get(rollout.id)).toEqual(fresh.get(rollout.id));
        const keyOf = new Map(aggregates.map((a) => [a.rollout.id, a.rollout.key]));
        passes.push({ at: options.now, measured: result.measured, carried: new Set([...result.carried].map((id) => keyOf.get(id)!)), overdue: result.overdue });
        return result;
      };
      const breaches = async () => (await t.call('GET', '/v1/audit?rollout=r3')).body.items.filter((e: { action: string }) => e.action === 'guard.breached').length;
      await controller.tick();
      // r3 loses 20 of 100 messages (open past the grace); r1 and r2 are healthy. Every rollout gets traffic before every pass.
      await sendTraffic(t, 'r3', 'c1', 100, 20);
      let lostAt: number | null = null;
      for (let i = 0; i < 16 && (await breaches()) === 0; i++) {
        t.clock.advance(250);
        for (const key of keys) await sendTraffic(t, key, 'c1', 10, 0);
        const before = await breaches();
        await controller.tick();
        const pass = passes.at(-1)!;
        // A carried rollout is not decided in that pass.
        if (pass.carried.has('r3')) expect(await breaches()).toBe(before);
        if (lostAt === null && (await t.call('GET', '/v1/rollouts/r3/lost')).body.items.length > 0) lostAt = t.clock.now();
      }
      expect(await breaches()).toBe(1);
      expect(lostAt).not.toBeNull();
      // Decided within a second of its messages being marked lost.
      expect(passes.at(-1)!.at - lostAt!).toBeLessThanOrEqual(1_000);
      // Every rollout moved before every pass: one measured afresh in some (a third, with passes 250 ms apart and a
      // second's bound), the others carried, and none ever measured because its figures had passed the bound.
      const spreadPasses = passes.slice(1);
      expect(spreadPasses.some((p) => p.carried.size === 2 && p.measured === 1)).toBe(true);
      for (const p of spreadPasses) expect(p.overdue).toBe(0);
      // The board shows a carried rollout's figures with their own time, not the pass's; they stand for a second from
      // the pass that carried them (a scrape then reads them rather than measuring the rollout), however old they are.
      const last = passes.at(-1)!;
      expect(last.carried.size).toBeGreaterThan(0);
      const entries = new Map<string, unknown>();
      for (const key of last.carried) {
        const entry = await health.board(await t.rollcall.services.rollouts.get(key));
        expect(entry.at).toBeLessThan(last.at);
        entries.set(key, entry);
      }
      t.clock.advance(1_000 - 250 + 1);
      for (const key of last.carried) {
        const entry = await health.board(await t.rollcall.services.rollouts.get(key));
        expect(t.clock.now() - entry.at).toBeGreaterThan(1_000);
        expect(entry).toBe(entries.get(key));
      }
    } finally {
      await t.close();
    }
  });

  it('advances a rollout only in a pass that measured it afresh', async () => {
    const t = await createTestApp({ deps: { controller: { spread: { limit: 1, maxAgeMs: 1_000, everyMs: 250 } } } });
    try {
      const keys = ['a1', 'a2', 'a3'];
      for (const key of keys) {
        await createRollout(t, key, { plan: [{ live: 10, bakeSeconds: 2, minMessages: 10 }, { live: 50 }], autoAdvance: true, guards: { graceSeconds: 1, minSample: 10 } });
        await t.call('POST', `/v1/rollouts/${key}/start`);
      }
      const { controller, health, rollouts } = t.rollcall.services;
      let carried = new Set<number>();
      const watch = health.measureWatched;
      health.measureWatched = async (...args: Parameters<typeof watch>) => {
        const result = await watch(...args);
        carried = result.carried;
        return result;
      };
      for (const key of keys) await sendTraffic(t, key, 'c1', 40, 0);
      await controller.tick();
      const advancedIn: string[] = [];
      for (let i = 0; i < 24; i++) {
        t.clock.advance(250);
        // Every rollout moves before every pass: a third of them are measured afresh in each.
        for (const key of keys) await sendTraffic(t, key, 'c1', 10, 0);
        const before = new Map(await Promise.all(keys.map(async (key) => [key, (await rollouts.get(key)).rollout] as const)));
        await controller.tick();
        for (const key of keys) {
          if ((await rollouts.get(key)).rollout.step === before.get(key)!.step) continue;
          advancedIn.push(key);
          expect(carried.has(before.get(key)!.id), `${key} advanced on figures carried from an earlier pass`).toBe(false);
        }
      }
      expect(advancedIn.sort()).toEqual(keys);
    } finally {
      await t.close();
    }
  });
});
