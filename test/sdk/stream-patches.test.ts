/**
 * The SDK's side of stream patches: against a real server it ends on exactly
 * the snapshot and ETag `GET /v1/sdk/config` serves (a poll afterwards is a
 * 304), and a patch that does not follow on from the snapshot in hand is
 * never applied: the whole snapshot is fetched again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createConfigSource } from '../../sdk/config-source.ts';
import type { SnapshotPatch } from '../../sdk/patch.ts';
import type { ConfigSnapshot, RolloutSnapshot } from '../../sdk/snapshot.ts';
import { createStreamEvents } from '../../sdk/stream-events.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

let live: LiveServer | undefined;
afterEach(async () => {
  await live?.close();
  live = undefined;
});

describe('the SDK applying stream patches', () => {
  it('holds what the config endpoint serves after every change, and its next poll is a 304', async () => {
    live = await startLiveServer();
    const server = live;
    for (const key of ['a', 'b', 'c']) await server.api('POST', '/v1/rollouts', { key, plan: [{ live: 10 }, { live: 50 }] });
    const seen: ConfigSnapshot[] = [];
    const requests: { path: string; status: number }[] = [];
    const source = createConfigSource({
      url: server.url,
      sdkKey: server.sdkKey,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        requests.push({ path: new URL(String(input)).pathname + new URL(String(input)).search, status: res.status });
        return res;
      },
      onSnapshot: (s) => seen.push(s),
      onConfirmed() {},
      onUnreachable() {},
      onError() {},
      pollIntervalMs: 60_000,
      reconnectFirstMs: 1_000,
      reconnectMaxMs: 1_000,
      streamIdleMs: 60_000,
      healthyResetMs: 60_000,
      stream: true,
    });
    source.start();
    try {
      await waitFor(() => seen.length === 1, 5_000, 'the put');
      await server.api('POST', '/v1/rollouts/b/start');
      await server.api('PUT', '/v1/rollouts/c/pins/p9', { path: 'shadow' });
      await server.api('POST', '/v1/rollouts', { key: 'aa', plan: [{ live: 1 }] });
      const served = await fetch(`${server.url}/v1/sdk/config`, { headers: { authorization: `Bearer ${server.sdkKey}` } });
      const body = await served.text();
      const target = (JSON.parse(body) as ConfigSnapshot).version;
      await waitFor(() => seen.at(-1)?.version === target, 5_000, 'the patches');
      expect(JSON.stringify(seen.at(-1))).toBe(body);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(requests).toEqual([{ path: '/v1/sdk/stream?patches=1', status: 200 }]);
      await source.refresh();
      expect(requests.at(-1)).toEqual({ path: '/v1/sdk/config', status: 304 });
    } finally {
      source.stop();
    }
  });
});

describe('stream events', () => {
  const rollout = (key: string, version: number): RolloutSnapshot => ({ key, salt: key, state: 'running', version, step: 0, live: 100, shadow: 0, verify: 0, cohorts: [], pins: [] });
  const snap = (...rollouts: RolloutSnapshot[]): ConfigSnapshot => ({ version: rollouts.reduce((s, r) => s + r.version, 0), rollouts });
  const event = (name: string, data: unknown) => ({ event: name, data: JSON.stringify(data), id: undefined });
  const patchEvent = (base: number, ...rollouts: RolloutSnapshot[]): ReturnType<typeof event> =>
    event('patch', { base, version: base + 1, etag: `"e${base + 1}"`, rollouts, removed: [] } satisfies SnapshotPatch);

  function harness(fetched: ConfigSnapshot) {
    let current: ConfigSnapshot | null = null;
    const accepted: { version: number; etag: string | undefined }[] = [];
    let resyncs = 0;
    let finishResync!: () => void;
    const events = createStreamEvents({
      current: () => current,
      accept(snapshot, etag) {
        current = snapshot;
        accepted.push({ version: snapshot.version, etag });
      },
      resync: () => {
        resyncs++;
        return new Promise<void>((resolve) => (finishResync = () => ((current = fetched), accepted.push({ version: fetched.version, etag: '"fetched"' }), resolve())));
      },
      onError() {},
    });
    return { events, accepted, resyncs: () => resyncs, finishResync: () => finishResync(), current: () => current };
  }

  it('applies a patch on top of the snapshot it was made from, and refetches instead of applying one that does not follow on', async () => {
    const h = harness(snap(rollout('a', 3), rollout('b', 2)));
    h.events.handle(event('put', { etag: '"e3"', snapshot: snap(rollout('a', 2), rollout('b', 1)) }));
    h.events.handle(patchEvent(3, rollout('a', 3)));
    expect(h.current()).toEqual(snap(rollout('a', 3), rollout('b', 1)));
    expect(h.accepted.at(-1)).toEqual({ version: 4, etag: '"e4"' });

    h.events.handle(patchEvent(6, rollout('b', 3))); // base 6: version 5 went missing
    expect(h.resyncs()).toBe(1);
    expect(h.current()!.version).toBe(4); // not guessed at
    h.events.handle(patchEvent(7, rollout('a', 4))); // arrives while refetching: held
    h.finishResync();
    await h.events.settled();
    await new Promise((resolve) => setImmediate(resolve));
    // The refetch gave version 5; the held patch with base 7 does not follow on either: fetched again.
    expect(h.resyncs()).toBe(2);
    expect(h.accepted.map((a) => a.version)).toEqual([3, 4, 5]);
  });

  it('skips a patch already included in the snapshot in hand, and refuses malformed events', () => {
    const h = harness(snap());
    h.events.handle(event('put', { etag: '"e5"', snapshot: snap(rollout('a', 3), rollout('b', 2)) }));
    h.events.handle(patchEvent(4, rollout('a', 3)));
    expect(h.resyncs()).toBe(0);
    expect(h.accepted).toHaveLength(1);
    expect(() => h.events.handle(event('patch', { base: 5, version: 6, rollouts: [{ key: 'x' }], removed: [] }))).toThrow(/patch/);
    expect(() => h.events.handle(event('put', { snapshot: snap() }))).toThrow(/put/);
    expect(() => h.events.handle({ event: 'patch', data: '{', id: undefined })).toThrow();
    expect(h.accepted).toHaveLength(1);
  });
});
