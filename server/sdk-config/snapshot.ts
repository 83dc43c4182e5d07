/**
 * The snapshot SDKs evaluate. It is rebuilt only when the sum of the
 * rollouts' versions moves (one cheap aggregate query), which also notices
 * changes made by other servers on the same database; it is built from one
 * consistent read (see `loadAllAggregates`).
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { ConfigSnapshot } from '@rollcall/protocol';
import type { Database } from '../db/database.ts';
import { rollouts } from '../db/schema.ts';
import { loadAllAggregates } from '../rollouts/store.ts';
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

export function createSnapshotSource(database: Database) {
  let cached: PublishedSnapshot | null = null;
  let cachedKey = '';

  async function stateKey(): Promise<string> {
    const [row] = await database.db
      .select({ count: sql<number>`count(*)`, versions: sql<number>`coalesce(sum(${rollouts.version}), 0)` })
      .from(rollouts);
    return `${row?.count ?? 0}:${row?.versions ?? 0}`;
  }

  return {
    async current(): Promise<PublishedSnapshot> {
      const key = await stateKey();
      if (cached !== null && key === cachedKey) return cached;
      const aggregates = await loadAllAggregates(database.db);
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
