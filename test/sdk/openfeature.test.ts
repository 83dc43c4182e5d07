import { OpenFeature, ProviderEvents, type EventDetails } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { RollcallProvider } from '../../sdk/src/openfeature.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

let live: LiveServer;
const partners = Array.from({ length: 2000 }, (_, i) => `tenant-${i}`);
const inBand = (lo: number, hi: number) => partners.find((p) => positionOf('hooks', p) >= lo && positionOf('hooks', p) < hi)!;

beforeEach(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'hooks', plan: [{ live: 10, shadow: 30 }, { live: 50 }] });
  await live.api('POST', '/v1/rollouts/hooks/start');
  await live.api('POST', '/v1/rollouts', { key: 'drafty', plan: [{ live: 10 }] });
});
afterEach(async () => {
  await OpenFeature.close();
  await live.close();
});

describe('RollcallProvider through the OpenFeature SDK', () => {
  it('resolves a rollout as a string flag whose value is the path', async () => {
    await OpenFeature.setProviderAndWait(new RollcallProvider({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} } }));
    const client = OpenFeature.getClient();
    const live10 = await client.getStringDetails('hooks', 'old', { targetingKey: inBand(0, 1000) });
    expect(live10).toMatchObject({ value: 'new', variant: 'new', reason: 'SPLIT', flagMetadata: { cohort: 'c1', state: 'running' } });
    expect(await client.getStringValue('hooks', 'old', { targetingKey: inBand(1000, 3000) })).toBe('shadow');
    expect(await client.getStringValue('hooks', 'new', { targetingKey: inBand(3000, 10_000) })).toBe('old');
    expect(await client.getStringDetails('drafty', 'old', { targetingKey: 'x' })).toMatchObject({ value: 'old', reason: 'DISABLED' });
  });

  it('answers with OpenFeature error codes: unknown flag, missing targeting key, wrong type', async () => {
    await OpenFeature.setProviderAndWait(new RollcallProvider({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} } }));
    const client = OpenFeature.getClient();
    expect(await client.getStringDetails('nope', 'old', { targetingKey: 't' })).toMatchObject({ value: 'old', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getStringDetails('hooks', 'old', {})).toMatchObject({ value: 'old', reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    expect(await client.getBooleanDetails('hooks', false, { targetingKey: 't' })).toMatchObject({ value: false, errorCode: 'TYPE_MISMATCH' });
    expect(await client.getNumberDetails('hooks', 1, { targetingKey: 't' })).toMatchObject({ value: 1, errorCode: 'TYPE_MISMATCH' });
  });

  it('emits ConfigurationChanged when the snapshot changes', async () => {
    await OpenFeature.setProviderAndWait(new RollcallProvider({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} } }));
    const changes: EventDetails[] = [];
    OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, (details) => changes.push(details!));
    await live.api('POST', '/v1/rollouts/hooks/advance');
    await waitFor(() => changes.length > 0, 2_000, 'ConfigurationChanged');
    expect(changes[0]).toMatchObject({ flagsChanged: ['hooks'] });
    expect(await OpenFeature.getClient().getStringValue('hooks', 'old', { targetingKey: inBand(1000, 5000) })).toBe('new');
  });

  it('reports a provider error when the key is refused', async () => {
    await expect(
      OpenFeature.setProviderAndWait(new RollcallProvider({ url: live.url, sdkKey: 'rc_sdk_notarealkeynotarealkeynotarealkey00', logger: { warn() {}, error() {} } })),
    ).rejects.toBeDefined();
    expect(await OpenFeature.getClient().getStringDetails('hooks', 'old', { targetingKey: 't' })).toMatchObject({ value: 'old', reason: 'ERROR' });
  });
});
