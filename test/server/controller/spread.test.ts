/**
 * When more rollouts moved than a pass measures (a spread: health/measure-memo.ts), the others keep their
 * figures with their time, decide nothing, and are measured oldest first, each within `maxAgeMs`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spreadCount, type Spread } from '../../../server/health/measure-memo.ts';
import { createRollout, createTestApp, sendTraffic } from '../../helpers/test-app.ts';

describe('a spread pass', () => {
  it('never lets figures pass maxAgeMs while passes keep their pace, whatever moves', () => {
    // The pass's choice, simulated over many passes: rollouts that moved, oldest first, past maxAgeMs always measured.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 50, max: 1_000 }),
        fc.integer({ min: 1_000, max: 5_000 }),
        fc.array(fc.array(fc.boolean(), { minLength: 400, maxLength: 400 }), { minLength: 30, maxLength: 30 }),
        (rollouts, limit, everyMs, maxAgeMs, moves) => {
          const spread: Spread = { limit, maxAgeMs, everyMs };
          let now = 0;
          const at = Array.from({ length: rollouts }, () => 0);
          for (const moved of moves) {
            now += everyMs;
            const must: number[] = [];
            const deferrable: number[] = [];
            for (let i = 0; i < rollouts; i++) {
              // A rollout that did not move is kept as it is: current, as of this pass.
              if (!moved[i]) at[i] = now;
              else if (now - at[i]! > maxAgeMs) must.push(i);
              else deferrable.push(i);
            }
            // Nothing is ever found past the bound: the pass before measured it in time.
            expect(must).toEqual([]);
            deferrable.sort((a, b) => at[a]! - at[b]!);
            const taken = spreadCount(deferrable.length, Math.max(0, limit - must.length), spread);
            expect(taken).toBeGreaterThanOrEqual(Math.min(deferrable.length, limit));
            for (const i of deferrable.slice(0, taken)) at[i] = now;
          }
        },
      ),
      { numRuns: 200 },
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
      const passes: { at: number; measured: number; carried: Set<string>; oldest: number }[] = [];
      const watch = health.measureWatched;
      health.measureWatched = async (...args: Parameters<typeof watch>) => {
        const result = await watch(...args);
        const keyOf = new Map(args[0].map((a) => [a.rollout.id, a.rollout.key]));
        const oldest = Math.max(...[...result.health.values()].map((h) => args[1].now - h.at));
        passes.push({ at: args[1].now, measured: result.measured, carried: new Set([...result.carried].map((id) => keyOf.get(id)!)), oldest });
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
      // Every rollout moved before every pass: one measured afresh in each (a third, with passes 250 ms apart and a
      // second's bound), the others carried, and no figures ever older than the bound.
      const spreadPasses = passes.slice(1);
      expect(spreadPasses.some((p) => p.carried.size === 2 && p.measured === 1)).toBe(true);
      for (const p of spreadPasses) expect(p.oldest).toBeLessThanOrEqual(spread.maxAgeMs);
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
