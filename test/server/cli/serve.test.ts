import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/cli.ts';
import { waitFor } from '../../helpers/live-server.ts';
import { tempDatabaseUrl } from '../../helpers/test-app.ts';

const ADMIN = 'serve-test-admin-key-0123456789abcdefghijkl';
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
});

// Starting the server process can take many seconds on a machine shared with other suites.
describe('rollcall serve', { timeout: 120_000 }, () => {
  it('runs the server as npm start does: configured by the environment, stopped cleanly by SIGTERM', async () => {
    const { url, dir } = tempDatabaseUrl();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const child = spawnCli(['serve'], { env: { PORT: '0', ROLLCALL_DB_URL: url, ROLLCALL_ADMIN_KEY: ADMIN } });
    cleanup.push(() => void child.kill('SIGKILL'));
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(output), 60_000, 'the server to listen');
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const rollouts = await fetch(`${base}/v1/rollouts`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(rollouts.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped');
    expect(output).not.toContain(ADMIN);
  });

  it('stops with the server’s own message on a bad variable', async () => {
    const child = spawnCli(['serve'], { env: { PORT: 'eighty' } });
    cleanup.push(() => void child.kill('SIGKILL'));
    let output = '';
    child.stderr!.on('data', (chunk) => (output += chunk));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
    expect(output).toMatch(/PORT: must be a whole number/);
  });
});
