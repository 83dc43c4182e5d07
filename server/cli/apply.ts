/**
 * Rollouts as code, in two phases. `planApply` reads every rollout the file
 * names and checks every change against the server's own rules (the same
 * functions the server runs), writing nothing. `writeApply` then patches
 * (each with If-Match on the version that was read) and creates last, since
 * a draft cannot be taken back; when the server refuses a write anyway (a
 * rollout changed in between), the patches already made are put back.
 * Lifecycle is never touched and nothing is deleted.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CompareRules } from '@rollcall/protocol';
import { storedRules } from '../rollouts/compare-rules.ts';
import { ApiError, type ApiClient } from './client.ts';
import type { CliError } from './errors.ts';
import type { RolloutEntry } from './file.ts';

export interface FieldChange {
  field: string;
  from?: unknown;
  to: unknown;
}

export interface Refusal {
  field: string;
  message: string;
}

/** What the server holds of a rollout, as far as the file speaks of it. */
export interface RemoteRollout {
  key: string;
  description: string;
  salt: string;
  state: 'draft' | 'running' | 'paused' | 'reverted' | 'completed';
  step: number | null;
  plan: RolloutEntry['plan'];
  guards: Record<string, number>;
  onBreach: string;
  autoAdvance: boolean;
  /** `{}` when none are set (older servers send nothing). */
  compare?: CompareRules;
  version: number;
}

type Patch = Partial<Omit<RolloutEntry, 'key'>>;

export type RolloutPlan =
  | { key: string; action: 'create'; changes: FieldChange[]; refusals: Refusal[]; body: RolloutEntry }
  | { key: string; action: 'patch' | 'unchanged'; changes: FieldChange[]; refusals: Refusal[]; remote: RemoteRollout; body: Patch; undo: Patch };

const EDITABLE = ['description', 'salt', 'plan', 'guards', 'onBreach', 'autoAdvance', 'compare'] as const;

/** Field-level differences: `plan[2].live: 25 → 30`, `plan[4]: (none) → {…}`. */
export function diffValues(field: string, from: unknown, to: unknown, out: FieldChange[]): void {
  if (isDeepStrictEqual(from, to)) return;
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(from) && Array.isArray(to)) {
    for (let i = 0; i < Math.max(from.length, to.length); i++) diffValues(`${field}[${i}]`, from[i], to[i], out);
  } else if (isRecord(from) && isRecord(to)) {
    for (const name of new Set([...Object.keys(from), ...Object.keys(to)])) diffValues(`${field}.${name}`, from[name], to[name], out);
  } else {
    out.push(from === undefined ? { field, to } : { field, from, to });
  }
}

/** The server's rules, loaded only when a file is applied (they come with the server's storage code). */
async function serverRules() {
  const [{ checkPlanChange, mergeGuards }, { AppError }, { DEFAULT_GUARDS }] = await Promise.all([
    import('../rollouts/service.ts'),
    import('../errors.ts'),
    import('../rollouts/model.ts'),
  ]);
  /** Runs one rule; a refusal is returned with the field it is about. */
  const check = (field: (details: unknown) => string, rule: () => void): Refusal[] => {
    try {
      rule();
      return [];
    } catch (error) {
      if (error instanceof AppError) return [{ field: field(error.details), message: error.message }];
      throw error;
    }
  };
  return { checkPlanChange, mergeGuards, DEFAULT_GUARDS, check };
}

type Rules = Awaited<ReturnType<typeof serverRules>>;

function planCreate(entry: RolloutEntry, rules: Rules): RolloutPlan {
  const changes = Object.entries(entry).filter(([name]) => name !== 'key').map(([field, to]) => ({ field, to }));
  const refusals = rules.check(() => 'guards', () => rules.mergeGuards(rules.DEFAULT_GUARDS, entry.guards));
  return { key: entry.key, action: 'create', changes, refusals, body: entry };
}

function planPatch(entry: RolloutEntry, remote: RemoteRollout, rules: Rules): RolloutPlan {
  const changes: FieldChange[] = [];
  const body: Record<string, unknown> = {};
  const undo: Record<string, unknown> = {};
  for (const field of EDITABLE) {
    // Compare rules are compared as the server stores them, so `unorderedArrays: false` is no change.
    const wanted = field === 'compare' ? (entry.compare === undefined ? undefined : (storedRules(entry.compare) ?? {})) : entry[field];
    if (wanted === undefined) continue; // a field the file leaves out is left as it is
    const before = changes.length;
    if (field === 'guards') {
      const guards = wanted as Record<string, number>;
      const changed = Object.keys(guards).filter((name) => guards[name] !== remote.guards[name]);
      for (const name of changed) diffValues(`guards.${name}`, remote.guards[name], guards[name], changes);
      if (changed.length > 0) {
        body.guards = Object.fromEntries(changed.map((name) => [name, guards[name]]));
        undo.guards = Object.fromEntries(changed.map((name) => [name, remote.guards[name]]));
      }
    } else {
      const current = field === 'compare' ? (remote.compare ?? {}) : remote[field];
      diffValues(field, current, wanted, changes);
      if (changes.length > before) {
        body[field] = wanted;
        undo[field] = current;
      }
    }
  }
  const refusals: Refusal[] = [];
  if (body.salt !== undefined && remote.state !== 'draft') {
    refusals.push({ field: 'salt', message: `the salt places every partner; it can change only while the rollout is a draft (it is ${remote.state})` });
  }
  if (body.plan !== undefined) {
    const field = (details: unknown) => ((details as { step?: number } | undefined)?.step === undefined ? 'plan' : `plan[${(details as { step: number }).step}]`);
    refusals.push(...rules.check(field, () => rules.checkPlanChange(remote, entry.plan)));
  }
  if (body.guards !== undefined) {
    refusals.push(...rules.check(() => 'guards', () => rules.mergeGuards(remote.guards as never, body.guards as never)));
  }
  const action = changes.length === 0 ? 'unchanged' : 'patch';
  return { key: entry.key, action, changes, refusals, remote, body: body as Patch, undo: undo as Patch };
}

/** Reads every rollout the file names and works out what would change. Writes nothing. */
export async function planApply(client: ApiClient, entries: RolloutEntry[]): Promise<RolloutPlan[]> {
  const rules = await serverRules();
  const plans: RolloutPlan[] = [];
  for (const entry of entries) {
    let remote: RemoteRollout | undefined;
    try {
      remote = await client.request<RemoteRollout>('GET', `/v1/rollouts/${entry.key}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.server.status === 404)) throw error;
    }
    plans.push(remote === undefined ? planCreate(entry, rules) : planPatch(entry, remote, rules));
  }
  return plans;
}

export interface WriteFailure {
  key: string;
  error: CliError;
  /** Patches put back after the refusal. */
  undone: string[];
  /** Patches that could not be put back, with why. */
  notUndone: { key: string; message: string }[];
  /** Drafts created before the refusal: they stay (rollouts are never deleted). */
  created: string[];
}

export type WriteOutcome = { ok: true; results: { key: string; action: 'create' | 'patch'; rollout: unknown }[] } | ({ ok: false } & WriteFailure);

export async function writeApply(client: ApiClient, plans: RolloutPlan[], reason: string): Promise<WriteOutcome> {
  const results: { key: string; action: 'create' | 'patch'; rollout: { version: number } }[] = [];
  const ordered = [...plans.filter((p) => p.action === 'patch'), ...plans.filter((p) => p.action === 'create')];
  for (const plan of ordered) {
    try {
      if (plan.action === 'create') {
        results.push({ key: plan.key, action: 'create', rollout: await client.request('POST', '/v1/rollouts', { body: plan.body }) });
      } else if (plan.action === 'patch') {
        const rollout = await client.request('PATCH', `/v1/rollouts/${plan.key}`, { body: { ...plan.body, reason }, ifMatch: plan.remote.version });
        results.push({ key: plan.key, action: 'patch', rollout });
      }
    } catch (error) {
      const failure: WriteFailure = { key: plan.key, error: error as CliError, undone: [], notUndone: [], created: results.filter((r) => r.action === 'create').map((r) => r.key) };
      for (const done of results.filter((r) => r.action === 'patch').reverse()) {
        const undo = (plans.find((p) => p.key === done.key) as Extract<RolloutPlan, { undo: Patch }>).undo;
        try {
          await client.request('PATCH', `/v1/rollouts/${done.key}`, { body: { ...undo, reason: `put back: apply stopped at ${plan.key}` }, ifMatch: done.rollout.version });
          failure.undone.push(done.key);
        } catch (undoError) {
          failure.notUndone.push({ key: done.key, message: (undoError as Error).message });
        }
      }
      return { ok: false, ...failure };
    }
  }
  return { ok: true, results };
}
