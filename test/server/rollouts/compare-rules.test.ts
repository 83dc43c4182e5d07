/**
 * Compare rules on the rollout: set on create or PATCH, audited, carried in
 * the snapshot, picked up by a running SDK on the stream and merged with its
 * own options; and the mismatches already counted in the window that lie
 * wholly in a newly ignored field are withdrawn.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import { mergeCompareRules } from '../../../sdk/src/shadow/compare-rules.ts';
import { dumpTables } from '../../helpers/test-app.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

let live: LiveServer;
let rc: RollcallClient | undefined;
beforeEach(async () => {
  live = await startLiveServer({ tickMs: 100 });
});
afterEach(async () => {
  await rc?.close();
  rc = undefined;
  await live.close();
});

const snapshotEntry = async (key: string) => (await live.api('GET', '/v1/sdk/config', undefined, live.sdkKey)).body.rollouts.find((r: any) => r.key === key);
const shadowOf = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}/health`)).body.cohorts.find((c: any) => c.name === 'shadow');

describe('compare rules on a rollout', () => {
  it('are set on create and PATCH, audited, and reach the snapshot; a rollout without rules snapshots without them', async () => {
    const created = await live.api('POST', '/v1/rollouts', { key: 'rules', plan: [{ live: 0, shadow: 100 }], compare: { ignore: ['$.meta.requestId'] } });
    expect(created.status).toBe(201);
    expect(created.body.compare).toEqual({ ignore: ['$.meta.requestId'] });
    await live.api('POST', '/v1/rollouts', { key: 'plain', plan: [{ live: 10 }] });
    expect(await snapshotEntry('rules')).toMatchObject({ compare: { ignore: ['$.meta.requestId'] } });
    expect(await snapshotEntry('plain')).not.toHaveProperty('compare');

    const rules = { ignore: ['$.meta.requestId', '$.items[*].at'], unorderedArrays: ['$.labels'], numericTolerance: { relative: 0.001 } };
    const patched = await live.api('PATCH', '/v1/rollouts/rules', { compare: rules, reason: 'timestamps per run' });
    expect(patched.status).toBe(200);
    expect(patched.body.compare).toEqual(rules);
    expect(await snapshotEntry('rules')).toMatchObject({ compare: rules, version: 2 });
    const entry = (await live.api('GET', '/v1/audit?rollout=rules')).body.items[0];
    expect(entry).toMatchObject({ action: 'rollout.updated', reason: 'timestamps per run', before: { compare: { ignore: ['$.meta.requestId'] } }, after: { compare: rules } });

    expect((await live.api('PATCH', '/v1/rollouts/rules', { compare: null })).body.compare).toEqual({});
    expect(await snapshotEntry('rules')).not.toHaveProperty('compare');
  });

  it('refuses bad rules with a 400 naming the field, and stores nothing', async () => {
    await live.api('POST', '/v1/rollouts', { key: 'rules', plan: [{ live: 0, shadow: 100 }] });
    const before = await dumpTables(live.database);
    for (const compare of [
      { ignore: ['meta.at'] },
      { ignore: ['$.items[x]'] },
      { ignore: '$.at' },
      { unorderedArrays: 'yes' },
      { numericTolerance: -1 },
      { numericTolerance: { relative: 2 } },
      { redact: ['$.card'] },
      { ignore: Array.from({ length: 201 }, (_, i) => `$.f${i}`) },
    ]) {
      const reply = await live.api('PATCH', '/v1/rollouts/rules', { compare });
      expect(reply.status, JSON.stringify(compare)).toBe(400);
      expect(JSON.stringify(reply.body.error.details)).toContain('compare');
    }
    expect((await live.api('POST', '/v1/rollouts', { key: 'bad', plan: [{ live: 1 }], compare: { ignore: ['nope'] } })).status).toBe(400);
    expect(await dumpTables(live.database)).toEqual(before);
  });

  it('reach a running SDK on the stream, merge with its own options, and withdraw what the window counted in the newly ignored field', async () => {
    await live.api('POST', '/v1/rollouts', { key: 'stamped', plan: [{ live: 0, shadow: 100 }], guards: { minSample: 1_000 } });
    await live.api('POST', '/v1/rollouts/stamped/start');
    rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} }, flushIntervalMs: 60_000, compare: { ignore: ['$.traceId'] } });
    await rc.ready();
    let n = 0;
    const handled = (type: string) => () => ({ type, traceId: `t-${++n}`, handledAt: n });
    let sent = 0;
    const send = async (count: number, newType = 'invoice.paid') => {
      for (let i = 0; i < count; i++) await rc!.run('stamped', { partnerId: `p-${i}`, messageId: `m-${++sent}` }, { old: handled('invoice.paid'), new: handled(newType) });
      await waitFor(async () => (await rc!.flush(), ((await shadowOf('stamped'))?.compared ?? 0) === sent), 5_000, 'the comparisons to be counted');
    };
    // Before the rule: every message differs in handledAt (traceId is ignored in code).
    await send(5);
    expect(await shadowOf('stamped')).toMatchObject({ compared: 5, mismatched: 5, withdrawn: 0 });

    const version = rc.status.version!;
    expect((await live.api('PATCH', '/v1/rollouts/stamped', { compare: { ignore: ['$.handledAt'] } })).status).toBe(200);
    await waitFor(() => rc!.status.version! > version, 3_000, 'the SDK to hear of the rule on the stream');
    // The window's five are withdrawn at once; from now on the SDK ignores handledAt (and still traceId).
    expect(await shadowOf('stamped')).toMatchObject({ compared: 5, mismatched: 0, withdrawn: 5 });
    await send(3);
    await send(2, 'invoice.created');
    expect(await shadowOf('stamped')).toMatchObject({ compared: 10, mismatched: 2, withdrawn: 5 });
    const body = (await live.api('GET', '/v1/rollouts/stamped/mismatches')).body;
    expect(body.fields.map((f: any) => [f.path, f.count, f.ignored])).toEqual([
      ['$.type', 2, false],
      ['$.handledAt', 5, true],
    ]);
    expect(body.items[0].diffs).toEqual([{ path: '$.type', old: 'invoice.paid', new: 'invoice.created' }]);
  });

  it('only ever relax what the code compares: ignore paths join, arrays are unordered where either says, the looser tolerance wins', () => {
    expect(mergeCompareRules(undefined, undefined)).toBeUndefined();
    const code = { ignore: ['$.a'], unorderedArrays: ['$.x'], numericTolerance: 0.01, learnNoise: 0.1 };
    expect(mergeCompareRules(code, undefined)).toBe(code);
    expect(mergeCompareRules(code, { ignore: ['$.b', '$.a'], unorderedArrays: ['$.y'], numericTolerance: { relative: 0.001 } })).toEqual({
      ignore: ['$.a', '$.b'],
      unorderedArrays: ['$.x', '$.y'],
      numericTolerance: { absolute: 0.01, relative: 0.001 },
      learnNoise: 0.1,
    });
    expect(mergeCompareRules({ unorderedArrays: false }, { unorderedArrays: true })).toEqual({ unorderedArrays: true });
    expect(mergeCompareRules({ numericTolerance: 5 }, { numericTolerance: 1 })).toEqual({ numericTolerance: { absolute: 5, relative: 0 } });
  });
});
