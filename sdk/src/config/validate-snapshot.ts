/**
 * A structural check of a snapshot from the network or disk, so that garbage
 * from a proxy or a truncated file never replaces a good snapshot.
 */
import { ROLLOUT_STATES, type ConfigSnapshot, type RolloutSnapshot } from '@rollcall/protocol';

const STATES = new Set<string>(ROLLOUT_STATES);
const PATHS = new Set(['old', 'new', 'shadow']);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function isRollout(value: unknown): value is RolloutSnapshot {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.key === 'string' &&
    typeof r.salt === 'string' &&
    typeof r.state === 'string' &&
    STATES.has(r.state) &&
    isInt(r.version) &&
    isInt(r.live) &&
    isInt(r.shadow) &&
    typeof r.verify === 'number' &&
    Array.isArray(r.cohorts) &&
    r.cohorts.every(
      (c: unknown) =>
        c !== null && typeof c === 'object' && typeof (c as Record<string, unknown>).name === 'string' && isInt((c as Record<string, unknown>).from) && isInt((c as Record<string, unknown>).to),
    ) &&
    Array.isArray(r.pins) &&
    r.pins.every((p: unknown) => p !== null && typeof p === 'object' && typeof (p as Record<string, unknown>).partnerId === 'string' && PATHS.has((p as Record<string, unknown>).path as string))
  );
}

export function isSnapshot(value: unknown): value is ConfigSnapshot {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return isInt(s.version) && Array.isArray(s.rollouts) && s.rollouts.every(isRollout);
}
