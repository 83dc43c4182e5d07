/**
 * The SDK snapshot is read in one consistent view of the database. The race
 * is made deterministic with a hook on the database client: the moment the
 * snapshot's read of the rollouts table would run, a `revert c1` is made and
 * committed first, so a snapshot read as separate statements would carry the
 * new rollout version with the old cohorts, and every SDK would keep routing
 * c1 to `new` (same version, taken for same content). Read as one batch, the
 * hook has no moment between the reads to act in, and every SDK converges to
 * the committed state.
 */
import type { Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import * as schema from '../../../server/db/schema.ts';
import type { Database } from '../../../server/db/database.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
let rc: RollcallClient | undefined;
afterEach(async () => {
  await rc?.close();
  rc = undefined;
  await live?.close();
});

/** A hook: when armed, the next plain read of the rollouts table (as the snapshot makes it) waits for `before()` first. */
function hooked(database: Database, hook: { armed: boolean; fired: boolean; before: () => Promise<void> }): Database {
  const client = new Proxy(database.client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'execute' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (statement: Parameters<Client['execute']>[0]) => {
        const text = typeof statement === 'string' ? statement : (statement as { sql: string }).sql;
        if (hook.armed && /from "rollouts" order by "rollouts"\."key"/i.test(text)) {
          hook.armed = false;
          hook.fired = true;
          await hook.before();
        }
        return target.execute(statement);
      };
    },
  });
  return { ...database, db: drizzle(client, { schema }) } as Database;
}

describe('the SDK snapshot', () => {
  it('never mixes two states of the database: a revert committed mid-read still reaches every SDK within a second', async () => {
    const hook = { armed: false, fired: false, before: async () => {} };
    live = await startLiveServer({ wrapDatabase: (database) => hooked(database, hook), watchMs: 50 });
    expect((await live.api('POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 50 }] })).status).toBe(201);
    expect((await live.api('POST', '/v1/rollouts/hooks/start')).status).toBe(200);
    rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet });
    await rc.ready();
    const member = Array.from({ length: 1000 }, (_, i) => `partner-${i}`).find((p) => positionOf('hooks', p) < 5000)!;
    expect(rc.path('hooks', member)).toBe('new');

    // The next snapshot read (made for a pin) has a revert of c1 committed just before it reads the rollouts.
    let revertedAt = 0;
    hook.before = async () => {
      expect((await live.api('POST', '/v1/rollouts/hooks/revert', { cohort: 'c1', reason: 'the race' })).status).toBe(200);
      revertedAt = performance.now();
    };
    hook.armed = true;
    expect((await live.api('PUT', '/v1/rollouts/hooks/pins/someone-else', { path: 'old' })).status).toBe(200);
    // The pin's snapshot has been read (by the stream's watch, or by this request) once the server serves the pin.
    await waitFor(async () => JSON.stringify((await live.api('GET', '/v1/sdk/config')).body).includes('someone-else'), 2_000, 'the snapshot with the pin');
    if (!hook.fired) {
      // Read as one batch, the hook never had a moment inside the read: revert now, as it would have.
      hook.armed = false;
      await hook.before();
    }

    await waitFor(async () => rc!.path('hooks', member) === 'old', 1_000, 'the SDK to route c1 to old');
    expect(performance.now() - revertedAt).toBeLessThan(1_500);
    const served = (await live.api('GET', '/v1/sdk/config')).body;
    expect(served.rollouts[0].cohorts).toEqual([expect.objectContaining({ name: 'c1', status: 'reverted' })]);
    // The SDK holds exactly what the server serves now.
    expect(rc.snapshot).toEqual(served);
  });
});
