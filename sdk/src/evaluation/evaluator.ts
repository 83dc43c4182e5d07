/**
 * The client's view of every rollout: the current snapshot compiled for
 * evaluation, where it came from, and what changed with each new one.
 */
import { compileRollout, resolvePath, routeInto, type CompiledRollout, type ConfigSnapshot, type Path, type RolloutSnapshot, type Route } from '@rollcall/protocol';

export type SnapshotSource = 'none' | 'bootstrap' | 'backup' | 'server';

export interface ChangeEvent {
  version: number;
  source: SnapshotSource;
  /** Keys of the rollouts that were added, removed or changed. */
  changed: string[];
}

export interface RevertEvent {
  rollout: string;
  /** The cohort sent back to old, or null when the whole rollout was reverted. */
  cohort: string | null;
  reason: string | null;
  version: number;
}

function reverts(previous: RolloutSnapshot | undefined, next: RolloutSnapshot): RevertEvent[] {
  if (previous === undefined) return [];
  const event = (cohort: string | null, reason: string | null | undefined): RevertEvent => ({
    rollout: next.key,
    cohort,
    reason: reason ?? null,
    version: next.version,
  });
  if (next.state === 'reverted') return previous.state === 'reverted' ? [] : [event(null, next.reason)];
  if (next.state !== 'running' && next.state !== 'paused') return [];
  const wasActive = new Set(previous.cohorts.filter((c) => c.status === 'active').map((c) => c.name));
  return next.cohorts.filter((c) => c.status === 'reverted' && wasActive.has(c.name)).map((c) => event(c.name, c.reason));
}

export class Evaluator {
  private compiled = new Map<string, CompiledRollout>();
  private byKey = new Map<string, RolloutSnapshot>();
  // The last rollout looked up: services mostly ask about one rollout, over and over.
  private lastKey: string | null = null;
  private lastRollout: CompiledRollout | undefined = undefined;
  snapshot: ConfigSnapshot | null = null;
  source: SnapshotSource = 'none';
  /** Set when the snapshot is older than `failClosedAfterMs`: every partner routes to old. */
  failClosed = false;

  /** The partner's path; never throws. Unknown rollouts, odd ids and a stale snapshot give `old`. */
  path(rolloutKey: string, partnerId: string): Path {
    if (this.failClosed || typeof partnerId !== 'string' || partnerId.length === 0) return 'old';
    const rollout = this.lookup(rolloutKey);
    return rollout === undefined ? 'old' : resolvePath(rollout, partnerId);
  }

  private lookup(rolloutKey: string): CompiledRollout | undefined {
    if (rolloutKey === this.lastKey) return this.lastRollout;
    const rollout = this.compiled.get(rolloutKey);
    this.lastKey = rolloutKey;
    this.lastRollout = rollout;
    return rollout;
  }

  /** Fills `out` with path and cohort for accounting; false (and old) for an unknown rollout or an unusable partner id. */
  route(rolloutKey: string, partnerId: string, out: Route): boolean {
    const rollout = this.lookup(rolloutKey);
    if (rollout === undefined || typeof partnerId !== 'string' || partnerId.length === 0) {
      out.path = 'old';
      out.cohort = 'baseline';
      return false;
    }
    routeInto(rollout, partnerId, out);
    if (this.failClosed) out.path = 'old';
    return true;
  }

  verifyShare(rolloutKey: string): number {
    return this.lookup(rolloutKey)?.verify ?? 0;
  }

  /** The comparison rules set on the rollout, if any (the object changes only with the rollout). */
  compareRules(rolloutKey: string): RolloutSnapshot['compare'] {
    return this.byKey.get(rolloutKey)?.compare;
  }

  has(rolloutKey: string): boolean {
    return this.compiled.has(rolloutKey);
  }

  /**
   * Takes a new snapshot. A server snapshot older than the server snapshot in
   * hand (another server that has not caught up) is ignored: returns null.
   */
  apply(snapshot: ConfigSnapshot, source: SnapshotSource): { change: ChangeEvent; reverts: RevertEvent[] } | null {
    if (this.source === 'server' && source === 'server' && this.snapshot !== null && snapshot.version < this.snapshot.version) return null;
    // The same version is the same snapshot only if the content says so: a server that read two states of its
    // database once served a new version with old cohorts, and the corrected snapshot came with the same version.
    if (this.snapshot !== null && source === this.source && snapshot.version === this.snapshot.version && sameRollouts(snapshot, this.snapshot)) return null;
    const nextByKey = new Map(snapshot.rollouts.map((r) => [r.key, r]));
    const changed: string[] = [];
    const found: RevertEvent[] = [];
    const compiled = new Map<string, CompiledRollout>();
    for (const [key, rollout] of nextByKey) {
      const previous = this.byKey.get(key);
      const current = this.compiled.get(key);
      if (previous !== undefined && current !== undefined && previous.version === rollout.version && sameRollout(previous, rollout)) {
        compiled.set(key, current);
        continue;
      }
      compiled.set(key, compileRollout(rollout));
      changed.push(key);
      found.push(...reverts(previous, rollout));
    }
    for (const key of this.byKey.keys()) if (!nextByKey.has(key)) changed.push(key);
    this.compiled = compiled;
    this.byKey = nextByKey;
    this.lastKey = null;
    this.lastRollout = undefined;
    this.snapshot = snapshot;
    this.source = source;
    return { change: { version: snapshot.version, source, changed }, reverts: found };
  }
}

const sameRollout = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const sameRollouts = (a: ConfigSnapshot, b: ConfigSnapshot) => a.rollouts.length === b.rollouts.length && a.rollouts.every((r, i) => sameRollout(r, b.rollouts[i]));
