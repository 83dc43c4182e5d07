/**
 * The stream's `patch` event (sent to SDKs that ask with `?patches=1`): the
 * rollouts that changed, whole, and the keys of rollouts that are gone.
 * Applied to the snapshot whose ETag is `baseEtag` (at version `base`) it
 * gives the snapshot at `version`, which `GET /v1/sdk/config` serves under
 * `etag`. Servers before `baseEtag` send `base` alone.
 */
import type { ConfigSnapshot, RolloutSnapshot } from '@rollcall/protocol';
import { isRollout } from './validate-snapshot.ts';

export interface SnapshotPatch {
  base: number;
  /** The ETag of the snapshot the patch was computed from (absent from older servers). */
  baseEtag?: string;
  version: number;
  etag: string;
  rollouts: RolloutSnapshot[];
  removed: string[];
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function isPatch(value: unknown): value is SnapshotPatch {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return (
    isInt(p.base) &&
    (p.baseEtag === undefined || typeof p.baseEtag === 'string') &&
    isInt(p.version) &&
    typeof p.etag === 'string' &&
    Array.isArray(p.rollouts) &&
    p.rollouts.every(isRollout) &&
    Array.isArray(p.removed) &&
    p.removed.every((k) => typeof k === 'string')
  );
}

/** The snapshot `patch` leads to from `snapshot` (which must be at `patch.base`); rollouts stay in key order, as the server lists them. */
export function applyPatch(snapshot: ConfigSnapshot, patch: SnapshotPatch): ConfigSnapshot {
  const changed = new Map(patch.rollouts.map((r) => [r.key, r]));
  const removed = new Set(patch.removed);
  const rollouts = snapshot.rollouts.filter((r) => !removed.has(r.key)).map((r) => changed.get(r.key) ?? r);
  const known = new Set(snapshot.rollouts.map((r) => r.key));
  for (const added of patch.rollouts) {
    if (known.has(added.key)) continue;
    let at = rollouts.findIndex((r) => r.key > added.key);
    if (at === -1) at = rollouts.length;
    rollouts.splice(at, 0, added);
  }
  return { ...snapshot, version: patch.version, rollouts };
}
