/**
 * Rollouts as code, in process: the file's problems placed by line and
 * field, and the write phase putting back what it patched when the server
 * refuses a later write (a rollout changed between the check and the write).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLOUT_KEY, cohortNameSchema } from '../../../server/rollouts/schemas.ts';
import { COHORT_NAME, ROLLOUT_KEY as CLI_ROLLOUT_KEY } from '../../../server/cli/arguments.ts';
import { planApply, writeApply } from '../../../server/cli/apply.ts';
import { createClient } from '../../../server/cli/client.ts';
import { parseRolloutFile, RolloutFileError } from '../../../server/cli/file.ts';
import { startLiveServer, type LiveServer } from '../../helpers/live-server.ts';

let live: LiveServer;
beforeAll(async () => {
  live = await startLiveServer();
});
afterAll(async () => {
  await live.close();
});

/** Every problem of a file, as apply reports it: the file's own shape checked here, each entry by the server (a dry run). */
async function problemsOf(text: string): Promise<string[]> {
  try {
    await planApply(createClient({ url: live.url, key: live.adminKey }), parseRolloutFile('r.yaml', text));
  } catch (error) {
    if (error instanceof RolloutFileError) return (error.body as { error: { details: { problems: { line: number; column: number; field: string; message: string }[] } } }).error.details.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('a rollouts file', () => {
  it('reads YAML and JSON into the bodies the API takes', () => {
    const yaml = parseRolloutFile('r.yaml', 'rollouts:\n  - key: a\n    plan: [{ live: 0, shadow: 10 }, { live: 5 }]\n    autoAdvance: true\n').entries;
    const json = parseRolloutFile('r.json', JSON.stringify({ rollouts: [{ key: 'a', plan: [{ live: 0, shadow: 10 }, { live: 5 }], autoAdvance: true }] })).entries;
    expect(yaml).toEqual([{ key: 'a', plan: [{ live: 0, shadow: 10 }, { live: 5 }], autoAdvance: true }]);
    expect(json).toEqual(yaml);
  });

  it('reports every problem at once, each with its line, column and field', async () => {
    const text = ['rollouts:', '  - key: a', '    plan:', '      - live: 50', '      - live: 20', '    gaurds: {}', '  - key: a', '    plan: [{ live: 101 }]', '    onBreach: explode', ''].join('\n');
    expect(await problemsOf(text)).toEqual([
      '5:15 a plan[1].live: live never decreases along a plan (step 1 has 50)',
      '6:5 a gaurds: unknown field (a rollout has key, description, salt, plan, guards, onBreach, autoAdvance, compare)',
      '7:10 a key: a is already listed as rollouts[0]',
      '8:20 a plan[0].live: Too big: expected number to be <=100',
      '9:15 a onBreach: Invalid option: expected one of "revert-cohort"|"revert-all"|"pause"',
    ]);
    expect(await problemsOf('rollouts:\n  - key: b\n')).toEqual(['2:5 b plan: missing (expected array, received undefined)']);
    expect(await problemsOf('rollout:\n  - key: b\n')).toEqual(['1:1 rollouts: missing (expected array, received undefined)', '1:1 rollout: unknown field']);
    expect((await problemsOf('rollouts:\n  - key: a\n   plan: []\n'))[0]).toMatch(/^3:\d+ : /);
    expect(await problemsOf('{"rollouts": [{"key": "a", "plan": [{"live": 5}], "extra": 1}]}')).toEqual(['1:51 a extra: unknown field (a rollout has key, description, salt, plan, guards, onBreach, autoAdvance, compare)']);
  });

  it('checks rollout keys and cohort names with the API’s own patterns', () => {
    expect(CLI_ROLLOUT_KEY.source).toBe(ROLLOUT_KEY.source);
    for (const name of ['c1', 'c12', 'c9999', 'c0', 'c01', 'c10000', 'x1']) expect(COHORT_NAME.test(name)).toBe(cohortNameSchema.safeParse(name).success);
  });
});

describe('writing a file', () => {
  it('puts back the patches it made when a later write is refused, and creates nothing', async () => {
    for (const key of ['first', 'second']) expect((await live.api('POST', '/v1/rollouts', { key, description: 'as it was', plan: [{ live: 5 }, { live: 50 }] })).status).toBe(201);
    const client = createClient({ url: live.url, key: live.adminKey });
    const entries = parseRolloutFile(
      'r.yaml',
      `rollouts:
  - { key: first, description: from the file, plan: [{ live: 5 }, { live: 60 }], guards: { minSample: 500 } }
  - { key: second, description: from the file, plan: [{ live: 5 }, { live: 50 }] }
  - { key: third, plan: [{ live: 1 }] }
`,
    );
    const plans = await planApply(client, entries);
    expect(plans.map((p) => [p.key, p.action, p.refusals])).toEqual([
      ['first', 'patch', []],
      ['second', 'patch', []],
      ['third', 'create', []],
    ]);
    // Someone changes `second` after the check.
    expect((await live.api('POST', '/v1/rollouts/second/start')).status).toBe(200);
    const outcome = await writeApply(client, plans, 'test');
    expect(outcome).toMatchObject({ ok: false, key: 'second', undone: ['first'], notUndone: [], created: [] });
    expect(outcome.ok === false && outcome.error.message).toContain('version_mismatch');
    const first = (await live.api('GET', '/v1/rollouts/first')).body;
    expect(first).toMatchObject({ description: 'as it was', plan: [{ live: 5 }, { live: 50 }], guards: { minSample: 100 }, version: 3 });
    expect((await live.api('GET', '/v1/rollouts/second')).body).toMatchObject({ description: 'as it was', state: 'running' });
    expect((await live.api('GET', '/v1/rollouts/third')).status).toBe(404);
    const audit = (await live.api('GET', '/v1/audit?rollout=first')).body.items;
    expect(audit[0]).toMatchObject({ action: 'rollout.updated', reason: 'put back: apply stopped at second' });
  });
});
