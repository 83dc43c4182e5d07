import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';

// `npm run soak` holds 50,000 messages/s for ten minutes and is not part of `npm test`;
// this runs a five-second version of it so that it never rots.
describe('npm run soak, in miniature', () => {
  it('sends, flushes and reconciles: zero lost, zero counted twice', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/soak/index.ts', '--seconds', '5', '--rate', '5000', '--sdks', '10'], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/reports p50 [\d.]+ ms, p99 [\d.]+ ms/);
    // What the server committed is printed beside what was sent, per interval.
    expect(run.stdout).toMatch(/msg\/s, committed +[\d,]+ msg\/s/);
    expect(run.stdout).toMatch(/\d+ of \d+ intervals after the first committed under 80 % of the rate sent/);
    expect(run.stdout).toMatch(/reconciliation: sent (2[0-9],\d{3}) received \/ \1 processed; counted \1 \/ \1/);
    expect(run.stdout).toContain('zero lost, zero counted twice');
    // The size on disk is sampled for the curve under retention: ledger rows are there to count.
    expect(run.stdout).toMatch(/db \d+ MB \+ WAL \d+ MB, [1-9][\d,]* ledger rows/);
    expect(run.stdout).toContain('database on disk (file + WAL) over the run');
  }, 120_000);
});
