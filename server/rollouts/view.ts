/**
 * What the API shows of a rollout. Percentages (`live`, `shadow`, the plan)
 * are percent; cohort bands are positions in basis points, as the SDK
 * evaluates them. Times are ISO-8601.
 */
import { basisPoints, type RolloutSnapshot } from '@rollcall/protocol';
import { iso } from '../clock.ts';
import { effectiveShares } from './effective.ts';
import { stepShares, type Cohort, type Pin, type Rollout, type RolloutAggregate } from './model.ts';

export function cohortView(cohort: Cohort) {
  return {
    name: cohort.name,
    step: cohort.step,
    from: cohort.fromBp,
    to: cohort.toBp,
    status: cohort.status,
    createdAt: iso(cohort.createdAt),
    revertedAt: iso(cohort.revertedAt),
    revertKind: cohort.revertKind,
    revertedBy: cohort.revertedBy,
    revertReason: cohort.revertReason,
  };
}

export function pinView(pin: Pin) {
  return { partnerId: pin.partnerId, path: pin.path, createdAt: iso(pin.createdAt), createdBy: pin.createdBy };
}

/** The rollout without its pins: used by the list and by audit entries. */
export function rolloutSummary(rollout: Rollout, cohorts: Cohort[], pinCount: number) {
  const shares = stepShares(rollout);
  return {
    key: rollout.key,
    description: rollout.description,
    salt: rollout.salt,
    state: rollout.state,
    stateReason: rollout.stateReason,
    step: rollout.step,
    // The API shows a completed rollout as every partner on new, whatever its last step said.
    live: rollout.state === 'completed' ? 100 : (shares.live ?? 0),
    shadow: shares.shadow,
    ...effectiveShares(rollout, cohorts),
    verify: shares.verify,
    plan: rollout.plan,
    guards: rollout.guards,
    onBreach: rollout.onBreach,
    autoAdvance: rollout.autoAdvance,
    compare: rollout.compare ?? {},
    version: rollout.version,
    stepEnteredAt: iso(rollout.stepEnteredAt),
    createdAt: iso(rollout.createdAt),
    updatedAt: iso(rollout.updatedAt),
    cohorts: cohorts.map(cohortView),
    pinCount,
  };
}

export function rolloutView(aggregate: RolloutAggregate) {
  return {
    ...rolloutSummary(aggregate.rollout, aggregate.cohorts, aggregate.pins.length),
    pins: aggregate.pins.map(pinView),
  };
}

export type RolloutView = ReturnType<typeof rolloutView>;

/** What an SDK evaluates for this rollout (see protocol/src/snapshot.ts). */
export function rolloutSnapshot(aggregate: RolloutAggregate): RolloutSnapshot {
  const { rollout } = aggregate;
  const shares = stepShares(rollout);
  return {
    key: rollout.key,
    salt: rollout.salt,
    state: rollout.state,
    reason: rollout.stateReason,
    version: rollout.version,
    step: rollout.step,
    live: shares.live === null ? 0 : basisPoints(shares.live),
    shadow: shares.shadow === null ? 0 : basisPoints(shares.shadow),
    verify: shares.verify ?? 0,
    cohorts: aggregate.cohorts.map((c) => ({ name: c.name, from: c.fromBp, to: c.toBp, status: c.status, reason: c.revertReason })),
    pins: aggregate.pins.map((p) => ({ partnerId: p.partnerId, path: p.path })),
    ...(rollout.compare === null ? {} : { compare: rollout.compare }),
  };
}
