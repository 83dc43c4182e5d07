/**
 * `start | advance | pause | resume | complete | revert KEY`: each reads the
 * rollout, then sends the action with `If-Match` on the version it read (or
 * the one `--if-version` names), so two operators never overwrite each
 * other; a conflict lists who changed what since.
 */
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { ApiError } from './client.ts';
import { withContext, type Context } from './context.ts';
import { CliError, EXIT } from './errors.ts';
import { percent, time } from './output.ts';
import { cohortArgument, positiveInt, rolloutKeyArgument } from './arguments.ts';
import type { RolloutDetail } from './verdict.ts';
import { stepLabel } from './step-label.ts';

type Action = 'start' | 'advance' | 'pause' | 'resume' | 'complete' | 'revert';

interface ActionOptions {
  reason?: string;
  ifVersion?: number;
  cohort?: string | string[];
  yes?: boolean;
  force?: boolean;
}

interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  reason: string | null;
  after: { version?: number } | null;
}

const DONE: Record<Action, string> = { start: 'started', advance: 'advanced', pause: 'paused', resume: 'resumed', complete: 'completed', revert: 'reverted' };

/** The audit entries newer than `version`, oldest first: what happened since the operator looked. */
async function changesSince(ctx: Context, key: string, version: number): Promise<AuditEntry[]> {
  const { items } = await ctx.client.request<{ items: AuditEntry[] }>('GET', '/v1/audit', { query: { rollout: key, limit: 50 } });
  const since: AuditEntry[] = [];
  for (const entry of items) {
    if (typeof entry.after?.version === 'number' && entry.after.version <= version) break;
    since.push(entry);
  }
  return since.reverse();
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function act(ctx: Context, action: Action, key: string, options: ActionOptions): Promise<void> {
  const current = options.ifVersion === undefined ? await ctx.client.request<RolloutDetail>('GET', `/v1/rollouts/${key}`) : undefined;
  const version = options.ifVersion ?? current!.version;
  if (action === 'revert' && options.yes !== true) {
    const what = options.cohort === undefined ? `every cohort of ${key}` : `cohort ${options.cohort} of ${key}`;
    if (!process.stdin.isTTY) throw new CliError(EXIT.usage, `revert sends ${what} back to the old path: pass --yes to confirm when not on a terminal`, { error: { code: 'confirmation_required', message: 'pass --yes' } });
    if (!(await confirm(`Revert ${what} (version ${version})? Its partners go back to the old path.`))) {
      throw new CliError(EXIT.usage, 'not reverted: nothing was sent', { error: { code: 'declined', message: 'not reverted' } });
    }
  }
  const body =
    action === 'resume'
      ? { reason: options.reason, cohorts: options.cohort as string[] | undefined }
      : action === 'revert'
        ? { reason: options.reason, cohort: options.cohort as string | undefined }
        : action === 'advance' && options.force === true
          ? { reason: options.reason, force: true }
          : options.reason === undefined
            ? undefined
            : { reason: options.reason };
  let after: RolloutDetail;
  try {
    after = await ctx.client.request<RolloutDetail>('POST', `/v1/rollouts/${key}/${action}`, { body, ifMatch: version });
  } catch (error) {
    if (!(error instanceof ApiError && error.server.code === 'version_mismatch')) throw error;
    const since = await changesSince(ctx, key, version);
    const lines = since.map((e) => `${time(e.at)}  ${e.actor}  ${e.action}${e.subject === null ? '' : ` ${e.subject}`}${e.reason === null ? '' : ` — ${e.reason}`}`);
    const message = `${key} changed since version ${version}, so it was not ${DONE[action]}:\n  ${lines.join('\n  ') || '(the audit log shows no entry)'}\nLook again (rollcall status ${key}) and retry if it still makes sense.`;
    throw new CliError(EXIT.refused, message, { error: { ...(error.body as { error: object }).error, changesSince: since } });
  }
  ctx.out.result(after, () => {
    const step = after.step === null ? '' : `, ${stepLabel(after.step, after.plan.length)}`;
    const what = action === 'revert' && typeof options.cohort === 'string' ? `${key} cohort ${options.cohort}` : key;
    // Said, not left to be inferred: a paused rollout advanced by hand is still paused.
    const still = action === 'advance' && after.state === 'paused' ? '\nstill paused: nothing advances by itself, and reverted cohorts stay on old, until resume' : '';
    return `${what} ${DONE[action]}: ${after.state}${step}, live ${percent(after.live)}, shadow ${percent(after.shadow)}, version ${after.version}${still}`;
  });
}

export function registerLifecycle(program: Command): void {
  const define = (action: Action, description: string) =>
    program
      .command(action)
      .description(description)
      .argument('<key>', 'the rollout', rolloutKeyArgument)
      .option('--if-version <n>', 'act only if the rollout is still at this version (default: the version just read)', positiveInt);
  const run = (action: Action) => withContext((ctx, key: string, options: ActionOptions) => act(ctx, action, key, options));

  define('start', 'take a draft into its first step').option('--reason <text>', 'why, for the audit log').action(run('start'));
  define('advance', 'enter the next step (a paused rollout only with --force: it stays paused)')
    .option('--reason <text>', 'why, for the audit log')
    .option('--force', 'advance a paused rollout anyway; it stays paused and reverted cohorts stay on old')
    .action(run('advance'));
  define('pause', 'stop automatic advancing; routing stays').option('--reason <text>', 'why, for the audit log').action(run('pause'));
  define('resume', 'resume; brings back cohorts reverted by a breach, and those named')
    .option('--reason <text>', 'why, for the audit log')
    .addOption(new Option('--cohort <names...>', 'cohorts reverted by hand to bring back (c1 c2 …)').argParser((value: string, previous: string[] = []) => [...previous, cohortArgument(value)]))
    .action(run('resume'));
  define('complete', 'put every partner on the new path').option('--reason <text>', 'why, for the audit log').action(run('complete'));
  define('revert', 'send one cohort, or every partner, back to the old path')
    .requiredOption('--reason <text>', 'why, for the audit log and the callbacks')
    .option('--cohort <name>', 'the cohort to revert (default: the whole rollout)', cohortArgument)
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .action(run('revert'));
}
