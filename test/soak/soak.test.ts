import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';

// `npm run soak` holds 50,000 messages/s for ten minutes and is not part of `npm test`;
// this runs an 80-second version of it (5 SDKs, 2,000 msg/s), with settled ids kept a minute and retention every
// 5 s, so that housekeeping deletes while reports flow; it must still reconcile exactly.
describe('npm run soak, in miniature', () => {
  it('sends, flushes and reconciles: zero lost, zero counted twice', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/soak/index.ts', '--seconds', '80', '--rate', '2000', '--sdks', '5', '--settled-minutes', '1', '--retention-seconds', '5'],
      { cwd: ROOT, encoding: 'utf8', timeout: 200_000 },
    );
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/reports p50 [\d.]+ ms, p99 [\d.]+ ms/);
    // What the server committed is printed beside what was sent, per interval.
    expect(run.stdout).toMatch(/msg\/s, committed +[\d,]+ msg\/s/);
    expect(run.stdout).toMatch(/\d+ of \d+ intervals after the first committed under 80 % of the rate sent/);
    // The server's own figure for report commits made while housekeeping deleted, and housekeeping did delete.
    expect(run.stdout).toMatch(/server: longest report commit \(arrival to commit\) while retention swept \d+ ms, otherwise \d+ ms; \d+ sweeps, [1-9][\d,]* settled ids removed, longest retention statement \d+ ms/);
    const reconciled = /reconciliation: sent ([\d,]+) received \/ \1 processed; counted \1 \/ \1; dropped 0; open or lost ids 0/.exec(run.stdout);
    expect(reconciled, run.stdout).not.toBeNull();
    // Retention ran while reports flowed: one message in ten travels by id, and the ledger kept far fewer
    // (those settled in the last minute).
    const sent = Number(reconciled![1]!.replaceAll(',', ''));
    const end = Number(/ledger rows: peak [\d,]+, at the end ([\d,]+)/.exec(run.stdout)![1]!.replaceAll(',', ''));
    expect(end).toBeLessThan(0.9 * (sent / 10));
    expect(run.stdout).toContain('zero lost, zero counted twice');
    // The size on disk is sampled for the curve under retention: ledger rows are there to count.
    expect(run.stdout).toMatch(/db \d+ MB \+ WAL \d+ MB, [1-9][\d,]* ledger rows/);
    expect(run.stdout).toContain('database on disk (file + WAL) over the run');
    // The counts are read off the sending thread, and the SDKs' own memory is shown beside the server's.
    expect(run.stdout).toMatch(/slowest read of these counts \d+ ms \(on a thread of its own/);
    expect(run.stdout).toMatch(/RSS \d+ MB \(SDKs \d+ MB\)/);
    expect(run.stdout).toMatch(/the SDKs' process: RSS \d+ MB at the end, at most \d+ MB/);
  }, 220_000);
});
