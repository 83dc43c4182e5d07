/**
 * What the SDK snapshot (sdk-config/snapshot.ts) reads of the rollouts: a
 * cheap probe that moves with every change, on this server or another, and
 * every rollout with its cohorts and pins in one consistent read.
 */
import type { Executor } from '../db/database.ts';
import type { RolloutAggregate } from './model.ts';
import * as store from './store.ts';

export function createRolloutSnapshotRead(db: Executor) {
  return {
    /** `count:sum of versions`: one aggregate query; it changes whenever a rollout is created or changed. */
    async stateKey(): Promise<string> {
      const { count, versions } = await store.versionTotals(db);
      return `${count}:${versions}`;
    },
    /** Every rollout with its cohorts and pins, read as one batch (see store.ts `loadAllAggregates`). */
    all(): Promise<RolloutAggregate[]> {
      return store.loadAllAggregates(db);
    },
  };
}

export type RolloutSnapshotRead = ReturnType<typeof createRolloutSnapshotRead>;
