/**
 * What a create or a patch would write, worked out without writing: the
 * rollout a create stores, the fields a patch changes, and every rule either
 * breaks. The service writes what this returns, or answers the first refusal;
 * a dry run (`?dryRun=true`) answers the result, or every refusal.
 */
import { AppError, badRequest, conflict } from '../errors.ts';
import { storedRules } from './compare-rules.ts';
import { DEFAULT_GUARDS, defaultReporterTimeout, reporterTimeoutOf, type Guards, type Rollout } from './model.ts';
import { checkPlanChange } from './plan-change.ts';
import type { CreateRolloutInput, PatchRolloutInput } from './schemas.ts';

/** A rule a change breaks, with the body field it is about. */
export interface Refusal {
  field: string;
  error: AppError;
}

/** The error a write answers for its refusals: the first, as it meets them; a dry run's also lists every one in `details.refusals`. */
export function refusedChange(refusals: Refusal[], all: boolean): AppError {
  const { error } = refusals[0]!;
  if (!all) return error;
  const details = typeof error.details === 'object' && error.details !== null ? error.details : {};
  const listed = refusals.map(({ field, error: e }) => ({ field, code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) }));
  return new AppError(error.status, error.code, error.message, { ...details, refusals: listed });
}

/** Runs one rule; what it refuses is kept with its field, and undefined returned. */
function checked<T>(refusals: Refusal[], field: string, rule: () => T): T | undefined {
  try {
    return rule();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    refusals.push({ field, error });
    return undefined;
  }
}

export function mergeGuards(current: Guards, patch: Partial<Guards> | undefined): Guards {
  const guards = { ...current, ...patch };
  // A reporter timeout left at its default keeps following the grace.
  if (patch?.reporterTimeoutSeconds === undefined && reporterTimeoutOf(current) === defaultReporterTimeout(current.graceSeconds)) {
    guards.reporterTimeoutSeconds = defaultReporterTimeout(guards.graceSeconds);
  }
  if (guards.windowSeconds <= guards.graceSeconds) {
    throw badRequest('invalid_guards', `windowSeconds (${guards.windowSeconds}) must be longer than graceSeconds (${guards.graceSeconds})`);
  }
  return guards;
}

/** A create's refusal when the key is taken. */
export const keyTaken = (key: string): Refusal => ({ field: 'key', error: conflict('rollout_exists', `a rollout with key ${JSON.stringify(key)} already exists`) });

/** The rollout a create stores (a draft at version 1), or null with the refusal of its guards. Whether the key is free is the caller's to read. */
export function createdRollout(input: CreateRolloutInput, now: number): { rollout: Omit<Rollout, 'id'> | null; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const guards = checked(refusals, 'guards', () => mergeGuards(DEFAULT_GUARDS, input.guards));
  if (guards === undefined) return { rollout: null, refusals };
  const rollout = {
    key: input.key,
    description: input.description ?? '',
    salt: input.salt ?? input.key,
    state: 'draft' as const,
    stateReason: null,
    plan: input.plan,
    guards,
    onBreach: input.onBreach ?? 'revert-cohort',
    autoAdvance: input.autoAdvance ?? false,
    compare: storedRules(input.compare),
    step: null,
    stepEnteredAt: null,
    measuredSince: null,
    completedAt: null,
    watchBreachedAt: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  return { rollout, refusals };
}

/** The fields a patch changes on `rollout`, and every rule it breaks (in the order the write checks them). */
export function patchedFields(rollout: Rollout, input: PatchRolloutInput, now: number): { changes: Partial<Rollout>; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const changes: Partial<Rollout> = { updatedAt: now };
  if (input.description !== undefined) changes.description = input.description;
  if (input.salt !== undefined && input.salt !== rollout.salt) {
    if (rollout.state !== 'draft') refusals.push({ field: 'salt', error: conflict('salt_locked', 'the salt places every partner; it can change only while the rollout is a draft') });
    else changes.salt = input.salt;
  }
  if (input.plan !== undefined) {
    const plan = input.plan;
    if (checked(refusals, 'plan', () => (checkPlanChange(rollout, plan), true))) changes.plan = plan;
  }
  if (input.guards !== undefined) {
    const guards = input.guards;
    const merged = checked(refusals, 'guards', () => mergeGuards(rollout.guards, guards));
    if (merged !== undefined) changes.guards = merged;
  }
  if (input.onBreach !== undefined) changes.onBreach = input.onBreach;
  if (input.autoAdvance !== undefined) changes.autoAdvance = input.autoAdvance;
  if (input.compare !== undefined) changes.compare = storedRules(input.compare);
  return { changes, refusals };
}
