/**
 * `rollcall wait KEY --until healthy|step=N|completed --timeout 10m`: blocks
 * a pipeline until the rollout gets there (exit 0), and fails it when the
 * rollout is reverted instead, or frozen by a guard (exit 1), or when time
 * runs out (exit 4), the way `kubectl rollout status` gates a deploy.
 * A server that stops answering for a while is waited for, within the timeout.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { withContext, type Context } from './context.ts';
import { CliError, EXIT } from './errors.ts';
import { duration, rolloutKeyArgument } from './arguments.ts';
import { verdictOf, type RolloutDetail, type Verdict } from './verdict.ts';
import { stepLabel } from './step-label.ts';

type Target = { kind: 'healthy' } | { kind: 'completed' } | { kind: 'step'; step: number };

export function parseTarget(value: string): Target {
  if (value === 'healthy' || value === 'completed') return { kind: value };
  // Steps count from 1, as `status` prints them (step 1 is the plan's first).
  const match = /^step=([1-9]\d{0,2})$/.exec(value);
  if (match !== null) return { kind: 'step', step: Number(match[1]) };
  throw new InvalidArgumentError('healthy, completed or step=N (N from 1, as status prints it)');
}

/** Reached, failed (with why), or neither yet. */
export function judge(rollout: RolloutDetail, target: Target): { outcome: 'reached' | 'failed' | 'waiting'; verdict: Verdict } {
  const verdict = verdictOf(rollout);
  if (verdict.status === 'reverted') return { outcome: 'failed', verdict };
  // A guard froze it (onBreach: pause, or a shadow breach): it will not get anywhere by itself.
  if (verdict.status === 'breached' && rollout.state === 'paused') return { outcome: 'failed', verdict };
  const reached =
    target.kind === 'completed'
      ? rollout.state === 'completed'
      : target.kind === 'step'
        ? rollout.state === 'completed' || (rollout.step !== null && rollout.step + 1 >= target.step && (rollout.state === 'running' || rollout.state === 'paused'))
        : verdict.status === 'healthy' || verdict.status === 'completed';
  return { outcome: reached ? 'reached' : 'waiting', verdict };
}

const describeTarget = (t: Target) => (t.kind === 'step' ? `step ${t.step}` : t.kind);

async function wait(ctx: Context, key: string, options: { until: Target; timeout: number; interval: number }): Promise<void> {
  const deadline = Date.now() + options.timeout;
  let lastLine = '';
  let lastError: CliError | undefined;
  let rollout: RolloutDetail | undefined;
  for (;;) {
    try {
      rollout = await ctx.client.request<RolloutDetail>('GET', `/v1/rollouts/${key}`);
      lastError = undefined;
      const { outcome, verdict } = judge(rollout, options.until);
      const line = `${key}: ${rollout.state}, ${stepLabel(rollout.step, rollout.plan.length)}, ${verdict.status} (${verdict.reason})`;
      if (line !== lastLine && !ctx.out.json) ctx.out.note(line);
      lastLine = line;
      if (outcome === 'reached') {
        ctx.out.result({ reached: describeTarget(options.until), verdict, rollout }, () => `${key} reached ${describeTarget(options.until)}: ${rollout!.state}, version ${rollout!.version}`);
        return;
      }
      if (outcome === 'failed') {
        const message = `${key} did not reach ${describeTarget(options.until)}: ${verdict.status} (${verdict.reason})`;
        throw new CliError(EXIT.refused, message, { error: { code: `rollout_${verdict.status}`, message, details: { verdict, rollout } } });
      }
    } catch (error) {
      // An unreachable server is waited for; a refusal (404, 401) or a failed rollout ends the wait.
      if (!(error instanceof CliError) || error.exitCode !== EXIT.unreachable) throw error;
      lastError = error;
      const line = `rollcall: ${error.message} (retrying)`;
      if (line !== lastLine && !ctx.out.json) ctx.out.note(line);
      lastLine = line;
    }
    if (Date.now() + options.interval > deadline) {
      if (lastError !== undefined) throw lastError;
      const message = `timed out after ${options.timeout / 1000} s waiting for ${key} to reach ${describeTarget(options.until)} (${lastLine})`;
      throw new CliError(EXIT.timeout, message, { error: { code: 'timeout', message, details: { rollout } } });
    }
    await new Promise((resolve) => setTimeout(resolve, options.interval));
  }
}

export function registerWait(program: Command): void {
  program
    .command('wait')
    .description('block until a rollout is healthy, reaches a step, or completes; fail if it is reverted instead')
    .argument('<key>', 'the rollout', rolloutKeyArgument)
    .requiredOption('--until <target>', 'healthy | step=N (from 1, as status prints it) | completed', parseTarget)
    .addOption(new Option('--timeout <duration>', 'give up after this long (90s, 10m, 1h)').argParser(duration).default(600_000, '10m'))
    .addOption(new Option('--interval <duration>', 'how often to look').argParser(duration).default(1000, '1s'))
    .action(withContext((ctx, key: string, options: { until: Target; timeout: number; interval: number }) => wait(ctx, key, options)));
}
