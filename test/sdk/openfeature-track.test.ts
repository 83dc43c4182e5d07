/**
 * OpenFeature tracking (spec section 6) into Rollcall's accounting: events
 * tracked through the real OpenFeature SDK reconcile like rc.received /
 * processed / failed, and tracked losses alone revert a cohort.
 */
import { OpenFeature } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { RollcallProvider } from '../../sdk/src/openfeature.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
const partners = Array.from({ length: 4000 }, (_, i) => `partner-${i}`);
let live: LiveServer;
let domain = 0;

beforeEach(async () => {
  live = await startLiveServer({ tickMs: 100 });
});
afterEach(async () => {
  await OpenFeature.clearProviders();
  await live.close();
});

async function openFeature(key: string, body: Record<string, unknown>) {
  expect((await live.api('POST', '/v1/rollouts', { key, ...body })).status).toBe(201);
  expect((await live.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
  const provider = new RollcallProvider({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 200 });
  const name = `track-${++domain}`;
  await OpenFeature.setProviderAndWait(name, provider);
  return { provider, client: OpenFeature.getClient(name) };
}

const cohort = async (key: string, name: string) => (await live.api('GET', `/v1/rollouts/${key}/health`)).body.cohorts.find((c: { name: string }) => c.name === name);

describe('RollcallProvider.track()', () => {
  it('counts rollcall.received, processed and failed in the same reconciliation as the SDK methods', async () => {
    const { provider, client } = await openFeature('jobs', { plan: [{ live: 100 }] });
    for (let i = 0; i < 30; i++) {
      const context = { targetingKey: partners[i]! };
      client.track('rollcall.received', context, { rollout: 'jobs', messageId: `m${i}` });
      if (i < 20) client.track('rollcall.processed', context, { rollout: 'jobs', messageId: `m${i}` });
      else if (i < 25) client.track('rollcall.failed', context, { rollout: 'jobs', messageId: `m${i}`, error: 'timeout upstream' });
    }
    // Settled in another process: a number id, as OpenFeature's tracking details allow.
    client.track('rollcall.processed', { targetingKey: 'partner-x' }, { rollout: 'jobs', messageId: 31 });
    // Not Rollcall's, or incomplete: ignored, never thrown.
    client.track('checkout.completed', { targetingKey: 'p' }, { rollout: 'jobs', messageId: 'x' });
    client.track('rollcall.received', {}, { rollout: 'jobs', messageId: 'no-partner' });
    client.track('rollcall.received', { targetingKey: 'p' }, { messageId: 'no-rollout' });
    await provider.client.flush();
    await waitFor(async () => (await cohort('jobs', 'c1'))?.received === 30, 5_000, 'the counts');
    expect(await cohort('jobs', 'c1')).toMatchObject({ received: 30, processed: 21, failed: 5 });
    const ledger = (await live.database.client.execute('SELECT message_id, status, error FROM messages ORDER BY message_id')).rows.map((r) => ({ ...r }));
    expect(ledger.filter((r) => r.status === 'open').map((r) => r.message_id).sort()).toEqual(['m25', 'm26', 'm27', 'm28', 'm29']);
    expect(ledger.filter((r) => r.status === 'failed')).toHaveLength(5);
    expect(ledger.find((r) => r.message_id === 'm20')).toMatchObject({ error: 'timeout upstream' });
    expect(ledger.find((r) => r.message_id === '31')).toMatchObject({ status: 'processed' });
    expect(ledger.map((r) => r.message_id)).not.toContain('no-partner');
  });

  it('reverts a cohort whose losses were reported through tracking alone, and the flag follows', async () => {
    const { provider, client } = await openFeature('hooks', { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20 } });
    const members = partners.filter((p) => positionOf('hooks', p) < 5000);
    expect(await client.getStringValue('hooks', 'old', { targetingKey: members[0]! })).toBe('new');
    for (let i = 0; i < 100; i++) {
      const context = { targetingKey: members[i % members.length]! };
      client.track('rollcall.received', context, { rollout: 'hooks', messageId: `h${i}` });
      if (i % 10 !== 0) client.track('rollcall.processed', context, { rollout: 'hooks', messageId: `h${i}` });
    }
    await provider.client.flush();
    await waitFor(async () => (await client.getStringValue('hooks', 'new', { targetingKey: members[0]! })) === 'old', 10_000, 'the revert to reach the provider');
    const rollout = (await live.api('GET', '/v1/rollouts/hooks')).body;
    expect(rollout.cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted', revertKind: 'breach' });
    const lostIds = async () => (await live.api('GET', '/v1/rollouts/hooks/lost?limit=1000')).body.items.map((m: { messageId: string }) => m.messageId).sort();
    // The ten were received milliseconds apart: they may become due over more than one tick.
    await waitFor(async () => (await lostIds()).length >= 10, 5_000, 'every dropped id to be marked lost');
    expect(await lostIds()).toEqual(Array.from({ length: 10 }, (_, i) => `h${i * 10}`).sort());
  });
});
