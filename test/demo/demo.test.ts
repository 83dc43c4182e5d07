import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';

/** Runs `npm run demo` (as node does it) and collects what it prints. */
function runDemo(args: string[], onOutput?: (text: string, stop: () => void) => void): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/demo/index.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk;
      onOutput?.(output, () => child.kill('SIGTERM'));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', (code) => resolve({ code, output, seconds: (performance.now() - started) / 1000 }));
  });
}

describe('npm run demo', () => {
  it('plays the three incidents, each as described, and ends by itself within 60 s with exit 0', async () => {
    const { code, output, seconds } = await runDemo([]);
    expect(code, output).toBe(0);
    expect(seconds).toBeLessThan(60);
    expect(output).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(output).toMatch(/mislabelled events\s+yes\s+shadow diffs caught it/);
    expect(output).toMatch(/silent drops\s+yes.*replayed, 0 still lost/);
    // Every loss is announced before the scenario says how it ended: no messages.lost arrives after it.
    expect(output.lastIndexOf('queue-consumer-v2 kill-switch receiver: messages.lost')).toBeLessThan(output.indexOf('silent drops   ended as described'));
    expect(output).toMatch(/destructive job\s+yes\s+c1 reverted by its failure guard/);
    expect(output).toContain('kill-switch receiver: cohort.reverted c1 (signature verified');
    expect(output).toContain('All three ended as described');
  }, 90_000);

  it('with --keep, leaves the server and its dashboard running until stopped', async () => {
    let checked = false;
    const { code, output } = await runDemo(['--keep'], (text, stop) => {
      const match = /The server keeps running: (http:\/\/[\d.:]+)\//.exec(text);
      if (match === null || checked) return;
      checked = true;
      void fetch(`${match[1]}/login`).then((res) => {
        expect(res.status).toBe(200);
        stop();
      });
    });
    expect(checked, output).toBe(true);
    expect(code).toBe(0);
  }, 90_000);
});
