/** Runs the real `rollcall` executable (the package's bin) as a subprocess, as a user or a pipeline would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './server-process.ts';

export const BIN = join(ROOT, 'server/cli/rollcall.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the test runner's (NO_COLOR, FORCE_COLOR, ROLLCALL_*) leaks in. */
export function cliEnv(env: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env };
  return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export function spawnCli(args: string[], options: { env: Record<string, string | undefined>; cwd?: string }): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: cliEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

export function runCli(args: string[], options: { env: Record<string, string | undefined>; input?: string; cwd?: string }): Promise<CliRun> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Runs a shell command line under a pseudo-terminal (util-linux `script`), so the CLI sees a TTY. */
export function runInTerminal(commandLine: string, options: { env: Record<string, string | undefined>; input?: string }): Promise<CliRun> {
  const child = spawn('script', ['-qec', commandLine, '/dev/null'], { cwd: ROOT, env: cliEnv({ TERM: 'xterm', ...options.env }), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  if (options.input !== undefined) child.stdin!.write(options.input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
