/**
 * The controller's watched rollouts are kept from pass to pass and loaded
 * again only when their version moves: every change to a rollout, its cohorts
 * or its pins moves it, on this server or another. What a pass gets is always
 * what a fresh read gives.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../server/app.ts';
import { silentLogger } from '../../../server/logger.ts';
import { DEFAULT_GUARDS } from '../../../server/rollouts/model.ts';
import { aggregatesByIds, controlledVersions } from '../../../server/rollouts/store.ts';
import { createRollout, createTestApp, statementsDuring, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

/** The watched rollouts as a fresh read finds them, in key order. */
async function fresh() {
  const versions = await controlledVersions(t.database.db, t.clock.now(), DEFAULT_GUARDS.watchSeconds);
  return aggregatesByIds(t.database.db, versions.map((v) => v.id));
}

describe('the rollouts a controller pass watches', () => {
  it('are read again only when their version moves, and always equal a fresh read, whichever server changed them', async () => {
    for (const key of ['a', 'b', 'c']) {
      await createRollout(t, key, { plan: [{ live: 20 }, { live: 50 }, { live: 100 }], guards: { watchSeconds: 60 } });
      await t.call('POST', `/v1/rollouts/${key}/start`);
    }
    const mine = t.rollcall.services.rollouts;
    expect(await mine.controlled()).toEqual(await fresh());
    // Nothing moved: one statement, the ids and versions.
    expect(await statementsDuring(t, () => mine.controlled())).toBe(1);

    // Another server on the same database changes them; this one's next pass sees each change.
    const other = createApp({ database: t.database, clock: t.clock, logger: silentLogger }).services.rollouts;
    const by = { actor: 'other server', reason: 'test' };
    const changes: [string, () => Promise<unknown>][] = [
      ['a pin', () => other.setPin('a', 'partner-1', 'new', by)],
      ['an advance (a new cohort)', () => other.transition('b', { action: 'advance' }, by)],
      ['a cohort reverted', () => other.transition('b', { action: 'revert', cohort: 'c1' } as never, by)],
      ['a pin removed', () => other.removePin('a', 'partner-1', by)],
      ['a pause', () => other.transition('c', { action: 'pause' }, by)],
      ['a resume (cohorts measured afresh)', () => other.transition('c', { action: 'resume' }, by)],
      ['a completion (watched during its watch)', () => other.transition('a', { action: 'complete' }, by)],
    ];
    for (const [what, change] of changes) {
      t.clock.advance(1_000);
      await change();
      expect(await mine.controlled(), what).toEqual(await fresh());
    }
    // Its watch over, the completed rollout leaves the pass.
    t.clock.advance(61_000);
    const keys = (await mine.controlled()).map((a) => a.rollout.key);
    expect(keys).toEqual(['b', 'c']);
    expect(await mine.controlled()).toEqual(await fresh());
    // Reverted and gone from the watch; started again elsewhere would be a new version too.
    await other.transition('c', { action: 'revert' } as never, by);
    expect((await mine.controlled()).map((a) => a.rollout.key)).toEqual(['b']);
  });
});
