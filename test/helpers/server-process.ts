/**
 * Starts the real server on a temporary database file and an ephemeral port,
 * and talks to it over HTTP: from its sources (node --import tsx
 * server/main.ts) for tests, so a changed source is what runs; from the build
 * (`built`, dist/server/main.js, what `npm start` runs) for benchmarks, which
 * `npm run bench` builds first: tsx's transform names every closure it makes,
 * which costs CPU on the hot paths a benchmark measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Extra node flags for the server, such as `--cpu-prof` when profiling a benchmark. */
const EXTRA_ARGS = process.env.ROLLCALL_SERVER_ARGS?.split(' ').filter((a) => a !== '') ?? [];

export interface ServerOptions {
  /** Run the build (dist/server/main.js), as `npm start` does, rather than the sources. */
  built?: boolean;
}

export function runServer(env: Record<string, string>, options: ServerOptions = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const entry = options.built === true ? ['dist/server/main.js'] : ['--import', 'tsx', 'server/main.ts'];
  const child = spawn(process.execPath, [...EXTRA_ARGS, ...entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function startServer(env: Record<string, string>, timeoutMs = 60_000, options: ServerOptions = {}): Promise<ServerProcess> {
  const { child, output, exited } = runServer(env, options);
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output());
    if (match) url = match[1];
    else if (child.exitCode !== null) throw new Error(`server exited early:\n${output()}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${output()}`);
    } else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    url,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
