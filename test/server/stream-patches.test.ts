/**
 * The stream with `?patches=1`: the whole snapshot (`put`) on connect, then
 * one `patch` per change carrying only the rollouts that changed, which,
 * applied in order, gives exactly what `GET /v1/sdk/config` serves under the
 * ETag the patch names. Streams without the parameter keep getting whole
 * snapshots, as SDKs before 0.4 expect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPatch } from '../../sdk/src/config/patch.ts';
import type { ConfigSnapshot } from '@rollcall/protocol';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';
import { connectSse, type SseConnection } from '../helpers/sse-client.ts';

let live: LiveServer;
const open: SseConnection[] = [];
beforeEach(async () => {
  live = await startLiveServer({ heartbeatMs: 60_000 });
  for (const key of ['alpha', 'bravo', 'charlie', ...Array.from({ length: 9 }, (_, i) => `zz-${i}`)]) await live.api('POST', '/v1/rollouts', { key, plan: [{ live: 10 }, { live: 50 }] });
});
afterEach(async () => {
  for (const sse of open.splice(0)) sse.close();
  await live.close();
});

async function stream(query = '?patches=1'): Promise<SseConnection> {
  const sse = await connectSse(`${live.url}/v1/sdk/stream${query}`, live.sdkKey);
  open.push(sse);
  return sse;
}
async function config(etag?: string) {
  const res = await fetch(`${live.url}/v1/sdk/config`, { headers: { authorization: `Bearer ${live.sdkKey}`, ...(etag === undefined ? {} : { 'if-none-match': etag }) } });
  return { status: res.status, etag: res.headers.get('etag')!, text: await res.text() };
}

describe('GET /v1/sdk/stream?patches=1', () => {
  it('puts the whole snapshot with its ETag on connect, then patches only what changed, ending where the config endpoint is', async () => {
    const sse = await stream();
    const put = await sse.next();
    expect(put.event).toBe('put');
    const first = JSON.parse(put.data) as { etag: string; snapshot: ConfigSnapshot };
    const served = await config();
    expect(first.etag).toBe(served.etag);
    expect(JSON.stringify(first.snapshot)).toBe(served.text);

    let snapshot = first.snapshot;
    let etag = first.etag;
    const changes: [string, string, unknown?][] = [
      ['POST', '/v1/rollouts/bravo/start'],
      ['PUT', '/v1/rollouts/alpha/pins/p1', { path: 'new' }],
      ['POST', '/v1/rollouts/bravo/revert', { cohort: 'c1', reason: 'drops' }],
      ['POST', '/v1/rollouts', { key: 'beta', plan: [{ live: 5 }] }],
    ];
    for (const [method, path, body] of changes) {
      const reply = await live.api(method, path, body);
      expect(reply.status).toBeLessThan(300);
      const event = await sse.next();
      expect(event.event).toBe('patch');
      const patch = JSON.parse(event.data);
      expect(patch.base).toBe(snapshot.version);
      // Computed from the snapshot in hand, named by content: the ETag the client holds.
      expect(patch.baseEtag).toBe(etag);
      const touched = path.split('/')[3] ?? 'beta';
      expect(patch.rollouts.map((r: { key: string }) => r.key)).toEqual([touched]);
      expect(patch.removed).toEqual([]);
      snapshot = applyPatch(snapshot, patch);
      etag = patch.etag;
      expect(event.id).toBe(String(snapshot.version));
      const now = await config();
      // Byte for byte the config endpoint's body (rollouts in the same order), under the same ETag.
      expect(JSON.stringify(snapshot)).toBe(now.text);
      expect(etag).toBe(now.etag);
      expect(event.data.length).toBeLessThan(now.text.length / 4);
    }
    expect((await config(etag)).status).toBe(304);
    expect(snapshot.rollouts.map((r) => r.key)).toEqual(['alpha', 'beta', 'bravo', 'charlie', ...Array.from({ length: 9 }, (_, i) => `zz-${i}`)]);
  });

  it('still sends whole snapshots to a stream that did not ask for patches', async () => {
    const legacy = await stream('');
    const patched = await stream();
    expect((await legacy.next()).event).toBe('snapshot');
    expect((await patched.next()).event).toBe('put');
    await live.api('POST', '/v1/rollouts/alpha/start');
    const whole = await legacy.next();
    expect(whole.event).toBe('snapshot');
    expect(whole.data).toBe((await config()).text);
    expect((await patched.next()).event).toBe('patch');
  });

  it('refuses an unknown stream parameter or value with 400', async () => {
    for (const query of ['?patches=yes', '?patch=1', '?patches=1&patches=0']) {
      const res = await fetch(`${live.url}/v1/sdk/stream${query}`, { headers: { authorization: `Bearer ${live.sdkKey}` } });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as any).error.code).toBe('invalid_query');
    }
    expect(live.rollcall.services.hub.connected).toBe(0);
  });
});
