/**
 * Partner assignment, shared by the SDK and the server (both import it from
 * @rollcall/protocol; there is one implementation of the hash and path rules).
 *
 *   h        = murmur3_x86_32(utf8(salt + ":" + partnerId), seed 0)
 *   position = (h % 100) * 100 + floor(h / 100) % 100      // 0..9999
 *
 * The first two digits are Unleash's gradual-rollout bucket (`h % 100 + 1`),
 * so for whole percentages membership equals Unleash's with groupId = salt.
 */
import { murmur3, prefixPlacer } from './murmur3.ts';
import type { Path, PinSnapshot, RolloutSnapshot, RolloutState } from './snapshot.ts';

export const POSITIONS = 10_000;

export function positionOfHash(hash: number): number {
  return (hash % 100) * 100 + (Math.floor(hash / 100) % 100);
}

export function positionOf(salt: string, partnerId: string): number {
  return positionOfHash(murmur3(`${salt}:${partnerId}`));
}

/** Percent (0..100, at most two decimals) to basis points. */
export function basisPoints(percent: number): number {
  return Math.round(percent * 100);
}

/** A rollout snapshot prepared for evaluation: the salt pre-hashed, bands in typed arrays. */
export interface CompiledRollout {
  readonly key: string;
  readonly state: RolloutState;
  readonly version: number;
  readonly live: number;
  readonly shadow: number;
  readonly verify: number;
  /** The partner's placement: position in the low 14 bits, 16 bits of its hash above (see prefixPlacer). */
  readonly place: (partnerId: string) => number;
  readonly bandFrom: Int32Array;
  readonly bandTo: Int32Array;
  readonly bandActive: Uint8Array;
  readonly bandNames: readonly string[];
  /** Pins keyed by the partner's hash, so a lookup never makes V8 hash the id string again. */
  readonly pins: ReadonlyMap<number, readonly PinSnapshot[]>;
  readonly pinCount: number;
}

export function compileRollout(rollout: RolloutSnapshot): CompiledRollout {
  const cohorts = rollout.cohorts;
  const place = prefixPlacer(`${rollout.salt}:`);
  const bandFrom = new Int32Array(cohorts.length);
  const bandTo = new Int32Array(cohorts.length);
  const bandActive = new Uint8Array(cohorts.length);
  cohorts.forEach((cohort, i) => {
    bandFrom[i] = cohort.from;
    bandTo[i] = cohort.to;
    bandActive[i] = cohort.status === 'active' ? 1 : 0;
  });
  return {
    key: rollout.key,
    state: rollout.state,
    version: rollout.version,
    live: rollout.live,
    shadow: rollout.shadow,
    verify: rollout.verify,
    place,
    bandFrom,
    bandTo,
    bandActive,
    bandNames: cohorts.map((cohort) => cohort.name),
    pins: pinsByHash(place, rollout.pins),
    pinCount: rollout.pins.length,
  };
}

/** 16 bits of the partner's hash: a small integer to V8, so a lookup never boxes a number. */
const pinKey = (placement: number) => placement >>> 14;
const positionOfPlacement = (placement: number) => placement & 0x3fff;

function pinsByHash(place: (partnerId: string) => number, pins: readonly PinSnapshot[]): Map<number, PinSnapshot[]> {
  const byHash = new Map<number, PinSnapshot[]>();
  for (const pin of pins) {
    const h = pinKey(place(pin.partnerId));
    const list = byHash.get(h);
    if (list === undefined) byHash.set(h, [pin]);
    else list.push(pin);
  }
  return byHash;
}

function pinOf(rollout: CompiledRollout, partnerId: string, placement: number): Path | undefined {
  const candidates = rollout.pins.get(pinKey(placement));
  if (candidates === undefined) return undefined;
  for (const pin of candidates) if (pin.partnerId === partnerId) return pin.path;
  return undefined;
}

/** Index of the cohort band holding `position`, or -1. */
export function bandIndex(rollout: CompiledRollout, position: number): number {
  const from = rollout.bandFrom;
  const to = rollout.bandTo;
  for (let i = 0; i < from.length; i++) {
    if (position >= from[i]! && position < to[i]!) return i;
  }
  return -1;
}

/**
 * The contract's path rule, in its order: draft → old; completed → new;
 * reverted → old; a pin wins next; an active cohort → new; a reverted cohort
 * → old; inside the shadow band → shadow; else old. Paused routes as running.
 */
export function resolvePath(rollout: CompiledRollout, partnerId: string): Path {
  const state = rollout.state;
  if (state === 'completed') return 'new';
  if (state !== 'running' && state !== 'paused') return 'old';
  const placement = rollout.place(partnerId);
  if (rollout.pinCount > 0) {
    const pinned = pinOf(rollout, partnerId, placement);
    if (pinned !== undefined) return pinned;
  }
  const position = positionOfPlacement(placement);
  const band = bandIndex(rollout, position);
  if (band >= 0) return rollout.bandActive[band] === 1 ? 'new' : 'old';
  return position < rollout.shadow ? 'shadow' : 'old';
}

/** Where a partner goes and in which cohort it is measured. Reused by callers to avoid allocation. */
export interface Route {
  path: Path;
  cohort: string;
}

/**
 * Fills `out` with the partner's path and the cohort its messages are
 * counted in: a band name (`c1`…), `shadow`, `baseline`, `pinned`, or
 * `completed` (a completed rollout's partners outside every band).
 */
export function routeInto(rollout: CompiledRollout, partnerId: string, out: Route): Route {
  const state = rollout.state;
  if (state !== 'running' && state !== 'paused' && state !== 'completed') {
    out.path = 'old';
    out.cohort = 'baseline';
    return out;
  }
  const placement = rollout.place(partnerId);
  if (state !== 'completed' && rollout.pinCount > 0) {
    const pinned = pinOf(rollout, partnerId, placement);
    if (pinned !== undefined) {
      out.path = pinned;
      out.cohort = 'pinned';
      return out;
    }
  }
  const position = positionOfPlacement(placement);
  const band = bandIndex(rollout, position);
  if (state === 'completed') {
    out.path = 'new';
    out.cohort = band >= 0 ? rollout.bandNames[band]! : 'completed';
  } else if (band >= 0) {
    out.path = rollout.bandActive[band] === 1 ? 'new' : 'old';
    out.cohort = rollout.bandNames[band]!;
  } else if (position < rollout.shadow) {
    out.path = 'shadow';
    out.cohort = 'shadow';
  } else {
    out.path = 'old';
    out.cohort = 'baseline';
  }
  return out;
}
