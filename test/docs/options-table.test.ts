/**
 * The one table of every option (docs/configuration.md) is what
 * scripts/options-table.ts generates from the code, so a changed default, a
 * new guard, variable or SDK option, or changed bounds fail here until
 * `npm run docs` is run (and a new field is described). The SDK package's own
 * README, which ships without docs/, keeps its options table too: every
 * option the code has is in it, with the code's default.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { committedTable, optionsTable } from '../../scripts/options-table.ts';
import { settleOptions } from '../../sdk/src/options/options.ts';

describe('the options table', () => {
  it('in docs/configuration.md is the one generated from the code (run npm run docs after a change)', async () => {
    expect(committedTable()).toBe(await optionsTable());
  });

  it('names every guard, server variable and createClient option', async () => {
    const table = await optionsTable();
    for (const name of ['graceSeconds', 'maxLatencyRatio', 'watchSeconds', 'onBreach', 'PORT', 'ROLLCALL_CALLBACK_ALLOW', 'ROLLCALL_INGEST_GROUP_MAX', 'flushIntervalMs', 'reconnect.maxMs', 'replay.concurrency']) {
      expect(table).toContain(`| \`${name}\` |`);
    }
    expect(table).toMatch(/\| `graceSeconds` \| rollout `guards` \| `30` \|/);
    expect(table).toMatch(/\| `ROLLCALL_DB_URL` \| server environment \| `file:\.\/data\/rollcall\.db` \|/);
    expect(table).toMatch(/\| `maxQueuedBytes` \| `createClient` \| `8388608` \(8 MiB\) \|/);
  });
});

describe('sdk/README.md', () => {
  it('lists every createClient option with the default the code applies', async () => {
    const text = readFileSync(new URL('../../sdk/README.md', import.meta.url), 'utf8');
    const section = text.slice(text.indexOf('## Options'), text.indexOf('\n## ', text.indexOf('## Options') + 1));
    const rows = section.split('\n').filter((line) => line.startsWith('| `'));
    const settled = settleOptions({ url: 'http://127.0.0.1:8787', sdkKey: 'rc_sdk_example' }) as Record<string, unknown>;
    const sdkRows = (await optionsTable()).split('\n').filter((line) => line.includes('| `createClient` |'));
    const problems: string[] = [];
    for (const line of sdkRows) {
      const name = /^\| `([^`]+)`/.exec(line)![1]!;
      const [head, tail] = name.split('.') as [string, string | undefined];
      const row = rows.find((r) => r.split('|')[1]!.includes(`\`${head}\``));
      if (row === undefined) {
        problems.push(`${name}: not in the table`);
        continue;
      }
      const value = settled[tail === undefined ? head : head + tail[0]!.toUpperCase() + tail.slice(1)];
      if (typeof value !== 'number' && typeof value !== 'boolean') continue;
      const mib = typeof value === 'number' && value % (1024 * 1024) === 0 ? value / 1024 / 1024 : null;
      const shown = row.split('|')[2]!;
      const ok = shown.includes(String(value)) || (mib !== null && new RegExp(`\\b${mib} MB|\\b${mib} MiB`).test(shown));
      if (!ok) problems.push(`${name}: default ${String(value)}, the README says${shown}`);
    }
    expect(problems).toEqual([]);
  });
});
