import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollout, createTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  for (const key of ['alpha', 'beta']) {
    await createRollout(t, key);
    for (const action of ['start', 'advance', 'advance']) await t.call('POST', `/v1/rollouts/${key}/${action}`);
    await t.call('PUT', `/v1/rollouts/${key}/pins/shared-partner`, { body: { path: 'old' } });
  }
});
afterEach(async () => {
  await t.close();
});

type Dump = Record<string, any[]>;

/** Rows that differ between two dumps, per table: changed (by position), added at the end. */
function diff(before: Dump, after: Dump) {
  const out: Record<string, { changed: [any, any][]; added: any[]; removed: any[] }> = {};
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[table] ?? [];
    const b = after[table] ?? [];
    const changed: [any, any][] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) changed.push([a[i], b[i]]);
    }
    const entry = { changed, added: b.slice(a.length), removed: a.slice(b.length) };
    if (changed.length + entry.added.length + entry.removed.length > 0) out[table] = entry;
  }
  return out;
}

describe('every write names its rows', () => {
  it('reverting c2 of one rollout touches that cohort, that rollout and one audit row only', async () => {
    const before = (await t.dump()) as Dump;
    const reply = await t.call('POST', '/v1/rollouts/alpha/revert', { body: { cohort: 'c2', reason: 'errors' } });
    expect(reply.status).toBe(200);
    const changes = diff(before, (await t.dump()) as Dump);
    expect(Object.keys(changes).sort()).toEqual(['audit_log', 'callback_messages', 'cohorts', 'rollouts', 'rollouts_revision']);
    // The rollouts revision (what a controller pass reads first) moved by the one write to the rollout row.
    expect(changes.rollouts_revision!.changed.map(([was, now]) => now.revision - was.revision)).toEqual([1]);
    // The announcement, written with the decision (no subscription, so no delivery).
    expect(changes.callback_messages!.added.map((m) => [m.type, m.rollout_key])).toEqual([['cohort.reverted', 'alpha']]);
    expect(changes.cohorts!.changed).toHaveLength(1);
    expect(changes.cohorts!.added).toHaveLength(0);
    const [was, now] = changes.cohorts!.changed[0]!;
    expect([was.name, was.status, now.status]).toEqual(['c2', 'active', 'reverted']);
    const alphaId = before.rollouts!.find((r) => r.key === 'alpha').id;
    expect(now.rollout_id).toBe(alphaId);
    expect(changes.rollouts!.changed.map(([, r]) => r.key)).toEqual(['alpha']);
    expect(changes.audit_log!.added).toHaveLength(1);
    expect(changes.audit_log!.changed).toHaveLength(0);
  });

  it('reverting all of one rollout leaves the other rollout untouched', async () => {
    const before = (await t.dump()) as Dump;
    await t.call('POST', '/v1/rollouts/beta/revert', { body: { reason: 'kill' } });
    const changes = diff(before, (await t.dump()) as Dump);
    const betaId = before.rollouts!.find((r) => r.key === 'beta').id;
    expect(changes.cohorts!.changed.map(([, c]) => [c.rollout_id, c.name])).toEqual([[betaId, 'c1'], [betaId, 'c2']]);
    expect(changes.rollouts!.changed.map(([, r]) => r.key)).toEqual(['beta']);
  });

  it('pinning and unpinning a partner in one rollout leaves the same partner in the other', async () => {
    const before = (await t.dump()) as Dump;
    await t.call('PUT', '/v1/rollouts/alpha/pins/shared-partner', { body: { path: 'new' } });
    await t.call('DELETE', '/v1/rollouts/alpha/pins/shared-partner');
    const after = (await t.dump()) as Dump;
    const betaId = before.rollouts!.find((r) => r.key === 'beta').id;
    expect(after.pins).toEqual(before.pins!.filter((p) => p.rollout_id === betaId));
    expect(diff(before, after).rollouts!.changed.map(([, r]) => r.key)).toEqual(['alpha']);
  });

  it('revoking one key changes that key row only', async () => {
    const before = (await t.dump()) as Dump;
    await t.call('POST', `/v1/keys/${t.keys.sdkId}/revoke`);
    const changes = diff(before, (await t.dump()) as Dump);
    expect(changes.api_keys!.changed.map(([, k]) => k.id)).toEqual([t.keys.sdkId]);
    expect(Object.keys(changes).sort()).toEqual(['api_keys', 'audit_log']);
  });
});
