/**
 * `npm start` as a newcomer runs it: it builds, serves, and stops when told — SIGTERM to npm (a process
 * manager) or Ctrl-C (SIGINT to the terminal's whole process group) — leaving nothing listening.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

async function stopsOn(signal: 'SIGTERM' | 'SIGINT', toGroup: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-start-'));
  const port = await freePort();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true, // its own process group, as a terminal's foreground job has
    env: { ...process.env, PORT: String(port), ROLLCALL_DB_URL: `file:${join(dir, 'rollcall.db')}`, ROLLCALL_ADMIN_KEY: 'start-test-admin-key-0123456789abcdefghij' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 150_000;
    while (!out.includes('rollcall listening on') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(out, out).toContain(`rollcall listening on http://127.0.0.1:${port}`);
    expect(await listening(port)).toBe(true);
    if (toGroup) process.kill(-child.pid!, signal);
    else child.kill(signal);
    await exited;
    // The server itself stopped (not only npm): nothing listens on the port any more.
    const until = Date.now() + 15_000;
    while ((await listening(port)) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await listening(port), out).toBe(false);
    expect(out).toContain(`${signal}: shutting down`);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('npm start', () => {
  it('stops the server on SIGTERM to npm', () => stopsOn('SIGTERM', false), 200_000);
  it('stops the server on Ctrl-C (SIGINT to the process group)', () => stopsOn('SIGINT', true), 200_000);
});
