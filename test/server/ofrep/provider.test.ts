/**
 * The real OFREP provider (@openfeature/ofrep-provider) through the real
 * OpenFeature server SDK, against a real server: it routes every partner as
 * Rollcall's own SDK does, and hears of a revert on its next evaluation.
 */
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

let live: LiveServer;
let rc: RollcallClient;
const partners = Array.from({ length: 10_000 }, (_, i) => `partner-${i}`);
const ROLLOUTS = ['shadowed', 'live', 'pinned', 'reverted-cohort', 'reverted', 'completed', 'drafty'];

beforeAll(async () => {
  live = await startLiveServer();
  const create = async (key: string, plan: unknown[], ...actions: [string, unknown?][]) => {
    expect((await live.api('POST', '/v1/rollouts', { key, plan })).status).toBe(201);
    for (const [action, body] of actions) expect((await live.api('POST', `/v1/rollouts/${key}/${action}`, body)).status, `${key} ${action}`).toBe(200);
  };
  await create('shadowed', [{ live: 0, shadow: 30 }, { live: 10 }], ['start']);
  await create('live', [{ live: 10 }, { live: 40, shadow: 60 }], ['start'], ['advance']);
  await create('pinned', [{ live: 25 }], ['start']);
  for (const [i, path] of (['new', 'old', 'shadow'] as const).entries()) {
    expect((await live.api('PUT', `/v1/rollouts/pinned/pins/partner-${i * 7}`, { path })).status).toBe(200);
  }
  await create('reverted-cohort', [{ live: 20 }, { live: 50 }], ['start'], ['advance'], ['revert', { cohort: 'c1', reason: 'loss' }]);
  await create('reverted', [{ live: 50 }], ['start'], ['revert', { reason: 'all back' }]);
  await create('completed', [{ live: 5 }], ['start'], ['complete']);
  await create('drafty', [{ live: 50 }]);
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} } });
  await rc.ready();
}, 60_000);

afterAll(async () => {
  await OpenFeature.clearProviders();
  await rc?.close();
  await live?.close();
});

async function ofrepClient(domain: string, options: Partial<ConstructorParameters<typeof OFREPProvider>[0]> = {}) {
  await OpenFeature.setProviderAndWait(domain, new OFREPProvider({ baseUrl: live.url, headers: [['Authorization', `Bearer ${live.sdkKey}`]], ...options }));
  return OpenFeature.getClient(domain);
}

describe('@openfeature/ofrep-provider against Rollcall', () => {
  it("returns the same path as Rollcall's SDK for 10,000 partners over shadow, live, pinned, reverted and completed rollouts", async () => {
    const client = await ofrepClient('agreement');
    const disagreements: string[] = [];
    const reasons = new Map<string, Set<string>>(ROLLOUTS.map((key) => [key, new Set()]));
    const seen = new Set<string>();
    // Each partner asks about one rollout, in turn: 10,000 evaluations over HTTP, about 1,400 per rollout.
    const asks = partners.map((partner, i) => [partner, ROLLOUTS[i % ROLLOUTS.length]!] as const);
    // The three pinned partners are asked about the pinned rollout too (their turn falls on another).
    for (let i = 0; i < 3; i++) asks.push([`partner-${i * 7}`, 'pinned']);
    for (let i = 0; i < asks.length; i += 50) {
      await Promise.all(
        asks.slice(i, i + 50).map(async ([partner, key]) => {
          const details = await client.getStringDetails(key, 'default', { targetingKey: partner });
          const expected = rc.evaluate(key, partner);
          if (details.value !== expected.path || details.flagMetadata.cohort !== expected.cohort) {
            disagreements.push(`${key} ${partner}: ofrep ${details.value}/${String(details.flagMetadata.cohort)} (${details.errorCode ?? ''}), sdk ${expected.path}/${expected.cohort}`);
          }
          reasons.get(key)!.add(details.reason!);
          seen.add(`${key}:${details.value}`);
        }),
      );
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    // Every path the rollouts can give was met, so the agreement covers each of them.
    for (const route of ['shadowed:shadow', 'shadowed:old', 'live:new', 'live:shadow', 'live:old', 'pinned:new', 'pinned:shadow', 'reverted-cohort:old', 'reverted-cohort:new', 'reverted:old', 'completed:new', 'drafty:old']) {
      expect(seen, route).toContain(route);
    }
    expect([...reasons.get('pinned')!].sort()).toEqual(['SPLIT', 'TARGETING_MATCH']);
    expect([...reasons.get('completed')!]).toEqual(['STATIC']);
    expect([...reasons.get('reverted')!]).toEqual(['DISABLED']);
    expect([...reasons.get('drafty')!]).toEqual(['DISABLED']);
    expect([...reasons.get('live')!]).toEqual(['SPLIT']);
  }, 300_000);

  it('sees a revert on its next evaluation', async () => {
    const client = await ofrepClient('revert', { headers: [['X-API-Key', live.sdkKey]] });
    const partner = partners.find((p) => rc.evaluate('live', p).cohort === 'c2')!;
    expect(await client.getStringDetails('live', 'old', { targetingKey: partner })).toMatchObject({ value: 'new', reason: 'SPLIT' });
    expect((await live.api('POST', '/v1/rollouts/live/revert', { cohort: 'c2', reason: 'lost messages' })).status).toBe(200);
    expect(await client.getStringDetails('live', 'new', { targetingKey: partner })).toMatchObject({ value: 'old', reason: 'SPLIT', flagMetadata: { cohort: 'c2' } });
    await waitFor(() => rc.path('live', partner) === 'old', 5_000, 'the SDK to hear of the revert');
  });

  it('surfaces OFREP errors as OpenFeature error codes', async () => {
    const client = await ofrepClient('errors');
    expect(await client.getStringDetails('nope', 'old', { targetingKey: 'p' })).toMatchObject({ value: 'old', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getStringDetails('live', 'old', {})).toMatchObject({ value: 'old', reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    expect(await client.getBooleanDetails('live', false, { targetingKey: 'p' })).toMatchObject({ value: false, errorCode: 'TYPE_MISMATCH' });
  });
});

describe('refused keys', () => {
  it('answers 401, then 429 with Retry-After, which the provider honours by not asking again', async () => {
    const limited = await startLiveServer({ deps: { authFailures: { max: 2, windowMs: 60_000 } } });
    try {
      const statuses: number[] = [];
      const fetchImplementation = async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
        const res = await fetch(input, init);
        statuses.push(res.status);
        return res;
      };
      await OpenFeature.setProviderAndWait('limited', new OFREPProvider({ baseUrl: limited.url, headers: [['Authorization', 'Bearer rc_sdk_notarealkeynotarealkeynotarealkey00']], fetchImplementation }));
      const client = OpenFeature.getClient('limited');
      for (let i = 0; i < 3; i++) expect(await client.getStringDetails('x', 'old', { targetingKey: 'p' })).toMatchObject({ value: 'old', reason: 'ERROR' });
      expect(statuses).toEqual([401, 401, 429]);
      expect(await client.getStringDetails('x', 'old', { targetingKey: 'p' })).toMatchObject({ value: 'old', reason: 'ERROR', errorMessage: expect.stringMatching(/TooManyRequests/) });
      expect(statuses).toHaveLength(3);
      const res = await fetch(`${limited.url}/ofrep/v1/evaluate/flags/x`, { method: 'POST', headers: { 'x-api-key': limited.sdkKey }, body: '{"context":{"targetingKey":"p"}}' });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
