/** `rollcall apply -f FILE [--dry-run]` and `rollcall export [KEY…]`: rollouts as code. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { FieldChange, RolloutPlan } from './apply.ts';
import { withContext, type Context } from './context.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { rolloutKeyArgument } from './arguments.ts';

const show = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
const changeLine = (c: FieldChange) => (!('from' in c) ? `${c.field}: ${show(c.to)}` : `${c.field}: ${show(c.from)} → ${show(c.to)}`);

function renderPlan(ctx: Context, plans: RolloutPlan[]): string {
  const { paint } = ctx.out;
  const lines: string[] = [];
  for (const plan of plans) {
    if (plan.action === 'create') lines.push(paint('green', `+ ${plan.key}: create as a draft`));
    else {
      const where = `(${plan.remote.state}, version ${plan.remote.version})`;
      lines.push(plan.action === 'unchanged' ? paint('dim', `= ${plan.key} ${where}: unchanged`) : paint('yellow', `~ ${plan.key} ${where}`));
    }
    for (const change of plan.changes) lines.push(`    ${changeLine(change)}`);
    for (const refusal of plan.refusals) lines.push(paint('red', `  ✗ ${refusal.field}: ${refusal.message}`));
  }
  return lines.join('\n');
}

const summaryOf = (plans: RolloutPlan[]) => plans.map((p) => ({ key: p.key, action: p.action, ...('remote' in p ? { state: p.remote.state, version: p.remote.version } : {}), changes: p.changes, refusals: p.refusals }));

async function apply(ctx: Context, options: { file: string; dryRun?: boolean; reason?: string }): Promise<void> {
  // Loaded here, not at start: the YAML parser is for this command only.
  const [{ planApply, writeApply }, { readRolloutFile }] = await Promise.all([import('./apply.ts'), import('./file.ts')]);
  const file = await readRolloutFile(options.file);
  const { name } = file;
  const plans = await planApply(ctx.client, file);
  const refused = plans.filter((p) => p.refusals.length > 0);
  const changing = plans.filter((p) => p.action !== 'unchanged');
  if (!ctx.out.json) ctx.out.line(renderPlan(ctx, plans));
  if (refused.length > 0) {
    const which = refused.flatMap((p) => p.refusals.map((r) => `${p.key} ${r.field}: ${r.message}`));
    const message = `the server would refuse ${which.length === 1 ? 'this change' : 'these changes'}, so nothing from ${name} was applied:\n  ${which.join('\n  ')}`;
    throw new CliError(EXIT.refused, message, { error: { code: 'refused', message, details: { file: name, rollouts: summaryOf(plans) } } });
  }
  const report = (extra: object) => ({ file: name, dryRun: options.dryRun === true, changed: false, rollouts: summaryOf(plans), ...extra });
  if (changing.length === 0) {
    ctx.out.result(report({}), () => ctx.out.paint('green', `Nothing to change: the server matches ${name}.`));
    return;
  }
  if (options.dryRun === true) {
    ctx.out.result(report({}), () => `Dry run: ${changing.length} of ${plans.length} rollouts would change (checked by the server); nothing was written.`);
    return;
  }
  const outcome = await writeApply(ctx.client, plans, options.reason ?? `rollcall apply -f ${name}`);
  if (!outcome.ok) {
    const parts = [`${outcome.key}: ${outcome.error.message}; apply stopped`];
    if (outcome.undone.length > 0) parts.push(`put back: ${outcome.undone.join(', ')}`);
    for (const failed of outcome.notUndone) parts.push(`could not put back ${failed.key}: ${failed.message}`);
    if (outcome.created.length > 0) parts.push(`created as drafts before the refusal (rollouts are never deleted): ${outcome.created.join(', ')}`);
    const { key, undone, notUndone, created } = outcome;
    throw new CliError(outcome.error.exitCode, parts.join('\n  '), { error: { code: 'apply_stopped', message: parts.join('; '), details: { key, undone, notUndone, created, cause: outcome.error.body } } });
  }
  const created = outcome.results.filter((r) => r.action === 'create').length;
  const patched = outcome.results.length - created;
  ctx.out.result(report({ changed: true, results: outcome.results }), () => `Applied ${name}: ${created} created, ${patched} patched, ${plans.length - outcome.results.length} unchanged.`);
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('make the server match a rollouts file (YAML or JSON): creates drafts, patches description, future steps and guards; never starts, reverts or deletes anything')
    .requiredOption('-f, --file <path>', 'the rollouts file, or - for standard input')
    .option('--dry-run', 'print what would change, as the server checks it, and write nothing')
    .option('--reason <text>', 'the reason recorded in the audit log (default: the command)')
    .action(withContext((ctx, options: { file: string; dryRun?: boolean; reason?: string }) => apply(ctx, options)));

  program
    .command('export')
    .description('print rollouts in the format apply reads (all of them, or those named)')
    .argument('[keys...]', 'rollout keys', (value: string, previous: string[] = []) => [...previous, rolloutKeyArgument(value)])
    .option('-o, --output <path>', 'write to this file instead of standard output')
    .action(
      withContext(async (ctx, keys: string[] | undefined, options: { output?: string }) => {
        const { exportRollouts } = await import('./export.ts');
        const text = await exportRollouts(ctx.client, keys ?? [], ctx.out.json ? 'json' : 'yaml');
        if (options.output === undefined) process.stdout.write(text);
        else {
          await writeFile(options.output, text).catch((error: NodeJS.ErrnoException) => {
            throw usageError(`cannot write ${options.output} (${error.code ?? error.message})`);
          });
        }
      }),
    );
}
