/**
 * cli_help_ms: how long `node server/cli/rollcall.js --help` takes, start to exit, beside bare `node -e 0`
 * in alternating runs of the same process (the anchor: what any Node command costs on this machine).
 */
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/server-process.ts';
import { median } from './stats.ts';

function timed(args: string[]): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} exited ${run.status}`);
  return performance.now() - started;
}

export function measureCli(options: { runs: number }) {
  const bare: number[] = [];
  const help: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    bare.push(timed(['-e', '0']));
    help.push(timed(['server/cli/rollcall.js', '--help']));
    version.push(timed(['server/cli/rollcall.js', '--version']));
  }
  return { cli_help_ms: median(help), cli_version_ms: median(version), node_bare_ms: median(bare), runs: options.runs };
}
