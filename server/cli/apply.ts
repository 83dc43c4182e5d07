/**
 * Rollouts as code, in two phases. `planApply` has the server check every
 * rollout the file names with a dry run (`?dryRun=true`): each entry as the
 * create it would be, which is also how the file is validated, then, for a
 * rollout that exists, the patch it would be, against the version read. The
 * server answers what each write would make, or every rule it breaks; nothing
 * is written. `writeApply` then sends those same bodies: patches (each with
 * If-Match on the version that was read) and creates last, since a draft
 * cannot be taken back; when the server refuses a write anyway (a rollout
 * changed in between), the patches already made are put back. Lifecycle is
 * never touched and nothing is deleted.
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError, type ApiClient } from './client.ts';
import type { CliError } from './errors.ts';
import type { FileProblem, Issue, RolloutEntry, RolloutFile } from './file.ts';

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
  compare?: Record<string, unknown>;
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

/** What a dry run answered: the rollout the write would make, or the rules it breaks, or a body the API does not take. */
type DryRun = { ok: true; rollout: RemoteRollout } | { ok: false; refusals: ServerRefusal[] } | { ok: false; issues: Issue[] };

/** A rule the write would break, as a dry run lists it in `details.refusals`. */
interface ServerRefusal {
  field: string;
  code: string;
  message: string;
  details?: unknown;
}

const pathOf = (dotted: string): PropertyKey[] => (dotted === '' ? [] : dotted.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)));

async function dryRun(client: ApiClient, method: 'POST' | 'PATCH', path: string, body: unknown, ifMatch?: number): Promise<DryRun> {
  try {
    return { ok: true, rollout: await client.request<RemoteRollout>(method, path, { body, ifMatch, query: { dryRun: 'true' } }) };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const details = error.server.details as { issues?: { path: string; code: string; message: string; keys?: string[] }[]; refusals?: ServerRefusal[] } | undefined;
    if (error.server.code === 'invalid_body' && details?.issues !== undefined) return { ok: false, issues: details.issues.map((i) => ({ ...i, path: pathOf(i.path) })) };
    if (details?.refusals !== undefined) return { ok: false, refusals: details.refusals };
    throw error;
  }
}

/** A refusal as apply shows it: a plan refusal names the step it is about. */
const refusalOf = (r: { field: string; message: string; details?: unknown }): Refusal => {
  const step = (r.details as { step?: number } | undefined)?.step;
  return { field: r.field === 'plan' && step !== undefined ? `plan[${step}]` : r.field, message: r.message };
};

/** The fields a rollout has, as the server describes its create body (the hint for an unknown one). */
async function rolloutFields(client: ApiClient): Promise<string[] | undefined> {
  const document = await client.request<any>('GET', '/openapi.json').catch(() => undefined);
  const properties = document?.paths?.['/v1/rollouts']?.post?.requestBody?.content?.['application/json']?.schema?.properties;
  return properties === undefined ? undefined : Object.keys(properties);
}

function planCreate(entry: RolloutEntry, checked: DryRun): RolloutPlan {
  const changes = Object.entries(entry).filter(([name]) => name !== 'key').map(([field, to]) => ({ field, to }));
  const refusals = 'refusals' in checked ? checked.refusals.map(refusalOf) : [];
  return { key: entry.key, action: 'create', changes, refusals, body: entry };
}

/** The patch the file asks for, as the server answers it: what would change, or every rule it breaks. */
async function planPatch(client: ApiClient, entry: RolloutEntry): Promise<RolloutPlan> {
  const remote = await client.request<RemoteRollout>('GET', `/v1/rollouts/${entry.key}`);
  const { key: _key, ...body } = entry;
  const checked = await dryRun(client, 'PATCH', `/v1/rollouts/${entry.key}`, body, remote.version);
  if (!checked.ok) {
    if ('issues' in checked) throw new Error(`the server refused ${entry.key} as a patch: ${checked.issues.map((i) => i.message).join('; ')}`);
    return { key: entry.key, action: 'patch', changes: [], refusals: checked.refusals.map(refusalOf), remote, body, undo: {} };
  }
  const after = checked.rollout;
  const changes: FieldChange[] = [];
  const undo: Record<string, unknown> = {};
  for (const field of EDITABLE) {
    if (entry[field] === undefined) continue; // a field the file leaves out is left as it is
    const before = changes.length;
    if (field === 'guards') {
      const changed = [...new Set([...Object.keys(remote.guards), ...Object.keys(after.guards)])].filter((name) => remote.guards[name] !== after.guards[name]);
      for (const name of changed) diffValues(`guards.${name}`, remote.guards[name], after.guards[name], changes);
      if (changed.length > 0) undo.guards = Object.fromEntries(changed.map((name) => [name, remote.guards[name]]));
    } else {
      // Compare rules as the server stores them: `unorderedArrays: false` is no change.
      const current = field === 'compare' ? (remote.compare ?? {}) : remote[field];
      diffValues(field, current, field === 'compare' ? (after.compare ?? {}) : after[field], changes);
      if (changes.length > before) undo[field] = current;
    }
  }
  return { key: entry.key, action: changes.length === 0 ? 'unchanged' : 'patch', changes, refusals: [], remote, body, undo: undo as Patch };
}

/**
 * Has the server check every rollout of the file and works out what would change. Writes nothing. Every
 * entry is first checked as the create it would be (the file's format is the create's body): a problem
 * there is the file's, reported with its line and field, all of them at once.
 */
export async function planApply(client: ApiClient, file: RolloutFile): Promise<RolloutPlan[]> {
  const checks: DryRun[] = [];
  const problems: FileProblem[] = [...file.duplicates];
  let fields: string[] | undefined;
  for (const [i, entry] of file.entries.entries()) {
    const checked = await dryRun(client, 'POST', '/v1/rollouts', entry);
    if ('issues' in checked) {
      const issues = checked.issues.map((issue) => ({ ...issue, path: ['rollouts', i, ...issue.path] }));
      if (fields === undefined && issues.some((issue) => issue.code === 'unrecognized_keys' && issue.path.length === 2)) fields = await rolloutFields(client);
      problems.push(...file.place(issues, fields));
    }
    checks.push(checked);
  }
  if (problems.length > 0) throw file.error(problems);
  const plans: RolloutPlan[] = [];
  for (const [i, entry] of file.entries.entries()) {
    const checked = checks[i]!;
    const exists = 'refusals' in checked && checked.refusals.some((r) => r.code === 'rollout_exists');
    plans.push(exists ? await planPatch(client, entry) : planCreate(entry, checked));
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
