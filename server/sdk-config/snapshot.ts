/**
 * The snapshot SDKs evaluate. It is rebuilt only when the sum of the
 * rollouts' versions moves (one cheap aggregate query), which also notices
 * changes made by other servers on the same database; it is built from one
 * consistent read (see rollouts/snapshot-read.ts).
 */
import { createHash } from 'node:crypto';
import type { ConfigSnapshot } from '@rollcall/protocol';
import type { RolloutSnapshotRead } from '../rollouts/snapshot-read.ts';
import { rolloutSnapshot } from '../rollouts/view.ts';

export interface PublishedSnapshot {
  snapshot: ConfigSnapshot;
  /** The JSON body, serialised once. */
  body: string;
  /** A strong ETag over the body. */
  etag: string;
  /** Each rollout's entry as it appears in the body, by key: what a stream patch carries. */
  entries: Map<string, string>;
}

/** `rollouts`: the rollouts domain's read model for the snapshot. */
export function createSnapshotSource(rollouts: RolloutSnapshotRead) {
  let cached: PublishedSnapshot | null = null;
  let cachedKey = '';

  return {
    async current(): Promise<PublishedSnapshot> {
      const key = await rollouts.stateKey();
      if (cached !== null && key === cachedKey) return cached;
      const aggregates = await rollouts.all();
      // Keyed by what was read, not by the probe before it: a change committed in between is read now
      // and the next probe agrees with it, rather than a newer content cached under an older key.
      const readKey = `${aggregates.length}:${aggregates.reduce((sum, a) => sum + a.rollout.version, 0)}`;
      const snapshot: ConfigSnapshot = {
        version: aggregates.reduce((sum, a) => sum + a.rollout.version, 0),
        rollouts: aggregates.map(rolloutSnapshot),
      };
      const body = JSON.stringify(snapshot);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      const entries = new Map(snapshot.rollouts.map((r) => [r.key, JSON.stringify(r)]));
      cached = { snapshot, body, etag, entries };
      cachedKey = readKey;
      return cached;
    },
  };
}

export type SnapshotSource = ReturnType<typeof createSnapshotSource>;
