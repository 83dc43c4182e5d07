/**
 * The controller lease on a real database file with a manual clock: one
 * server runs the timed passes, another takes over exactly when the
 * holder's lease runs out without being extended, or at once when it is
 * given up; `tick()` passes regardless.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../../server/clock.ts';
import { createController, type Controller } from '../../../server/controller/controller.ts';
import { createControllerLease, type ControllerLease } from '../../../server/controller/lease.ts';
import { readLease } from '../../../server/controller/store.ts';
import { openDatabase, type Database } from '../../../server/db/database.ts';
import type { HealthService } from '../../../server/health/service.ts';
import { silentLogger } from '../../../server/logger.ts';
import type { LostService } from '../../../server/lost/service.ts';
import type { RolloutService } from '../../../server/rollouts/service.ts';
import { tempDatabaseUrl } from '../../helpers/test-app.ts';

const TTL = 2_000;
let dir: string;
let databases: Database[];
const clock = manualClock(Date.UTC(2026, 10, 1, 12));

beforeEach(async () => {
  const temp = tempDatabaseUrl();
  dir = temp.dir;
  // Two servers: two connections to one file.
  databases = [await openDatabase({ url: temp.url }), await openDatabase({ url: temp.url })];
});
afterEach(() => {
  for (const database of databases) database.close();
  rmSync(dir, { recursive: true, force: true });
});

const leases = (): [ControllerLease, ControllerLease] => [
  createControllerLease({ database: databases[0]!, clock, ttlMs: TTL, holder: 'a' }),
  createControllerLease({ database: databases[1]!, clock, ttlMs: TTL, holder: 'b' }),
];

/** A controller over fakes that only counts its passes (a pass starts by loading the controlled rollouts). */
function counted(lease: ControllerLease): { controller: Controller; passes: () => number } {
  let passes = 0;
  const rollouts = { controlled: async () => (passes++, []) } as unknown as RolloutService;
  const health = { settleMany: async () => ({ dueMs: new Map(), latency: new Map() }), measureMany: async () => new Map(), record: async () => undefined } as unknown as HealthService;
  const lost = { markDueMany: async () => new Map() } as unknown as LostService;
  return { controller: createController({ clock, logger: silentLogger, rollouts, lost, health, lease }), passes: () => passes };
}

describe('the controller lease', () => {
  it('is held by one server; the other takes over exactly when it runs out unextended', async () => {
    const [a, b] = leases();
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    // Half the lease gone: the holder extends it, the other still waits.
    clock.advance(TTL / 2 + 1);
    expect(await a.acquire()).toBe(true);
    expect(await readLease(databases[1]!.db)).toEqual({ holder: 'a', until: clock.now() + TTL });
    expect(await b.acquire()).toBe(false);
    // The holder dies: nothing extends the lease. Up to the last millisecond it is still the holder's.
    clock.advance(TTL - 1);
    expect(await b.acquire()).toBe(false);
    clock.advance(1);
    expect(await b.acquire()).toBe(true);
    expect(b.held).toBe(true);
    // The old holder comes back (it was only paused): it finds the lease taken and steps down.
    expect(await a.acquire()).toBe(false);
    expect(a.held).toBe(false);
    expect(await readLease(databases[0]!.db)).toMatchObject({ holder: 'b' });
  });

  it('given up on shutdown, is taken by the next server to look', async () => {
    const [a, b] = leases();
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    await a.release();
    // `b` read the lease's time before: it looks again once that has passed, not before.
    expect(await b.acquire()).toBe(false);
    clock.advance(TTL);
    expect(await b.acquire()).toBe(true);
    const c = createControllerLease({ database: databases[0]!, clock, ttlMs: TTL, holder: 'c' });
    await b.release();
    expect(await c.acquire()).toBe(true);
  });

  it('lets only the holder run timed passes, and the other take them over when the holder dies', async () => {
    const [a, b] = leases();
    const first = counted(a);
    const second = counted(b);
    for (let i = 0; i < 4; i++) {
      await first.controller.timedTick();
      await second.controller.timedTick();
      clock.advance(250);
    }
    expect([first.passes(), second.passes()]).toEqual([4, 0]);
    // `tick()` is a pass whoever holds the lease (tests, tools, the compare-and-set races), even
    // when called while a timed look that will pass nothing is under way.
    await Promise.all([second.controller.timedTick(), second.controller.tick()]);
    expect(second.passes()).toBe(1);
    // The holder stops ticking (killed): within the lease's time and one pass, the other takes over.
    let waited = 0;
    while (second.passes() === 1) {
      clock.advance(250);
      waited += 250;
      await second.controller.timedTick();
    }
    expect(waited).toBeLessThanOrEqual(TTL);
    await first.controller.timedTick();
    expect(first.passes()).toBe(4);
    // A clean stop gives the lease up: the other takes it the next time it looks, though never extended.
    await second.controller.stop();
    expect(await readLease(databases[0]!.db)).toMatchObject({ holder: 'b', until: 0 });
    clock.advance(TTL);
    await first.controller.timedTick();
    expect(first.passes()).toBe(5);
  });
});
