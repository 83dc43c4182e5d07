/**
 * The share of partners really on each path, in percent: the step's `live`
 * less the bands of reverted cohorts (their partners are back on old), and
 * the shadow band's width. Pins move single partners and are not counted.
 */
import { basisPoints } from '@rollcall/protocol';
import { stepShares, type Cohort, type Rollout } from './model.ts';

export interface EffectiveShares {
  effectiveLive: number;
  effectiveShadow: number;
}

export function effectiveShares(rollout: Pick<Rollout, 'state' | 'plan' | 'step'>, cohorts: Pick<Cohort, 'fromBp' | 'toBp' | 'status'>[]): EffectiveShares {
  if (rollout.state === 'completed') return { effectiveLive: 100, effectiveShadow: 0 };
  if (rollout.state !== 'running' && rollout.state !== 'paused') return { effectiveLive: 0, effectiveShadow: 0 };
  const shares = stepShares(rollout);
  const liveBp = basisPoints(shares.live ?? 0);
  let revertedBp = 0;
  for (const c of cohorts) if (c.status === 'reverted') revertedBp += Math.max(0, Math.min(c.toBp, liveBp) - c.fromBp);
  // Shadow partners sit past every band, so a revert takes none of them off the shadow path.
  const shadowBp = shares.shadow === null ? 0 : Math.max(0, basisPoints(shares.shadow) - liveBp);
  return { effectiveLive: Math.max(0, liveBp - revertedBp) / 100, effectiveShadow: shadowBp / 100 };
}
