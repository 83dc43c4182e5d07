/**
 * The SDK's side of stream patches: against a real server it ends on exactly
 * the snapshot and ETag `GET /v1/sdk/config` serves (a poll afterwards is a
 * 304), and a patch that does not follow on from the snapshot in hand is
 * never applied: the whole snapshot is fetched again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createConfigSource } from '../../sdk/src/config/config-source.ts';
import type { SnapshotPatch } from '../../sdk/src/config/patch.ts';
import type { ConfigSnapshot, RolloutSnapshot } from '@rollcall/protocol';
import { createStreamEvents } from '../../sdk/src/config/stream-events.ts';
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

  /** A patch as servers with `baseEtag` send it: computed from the snapshot under `baseEtag`. */
  const etagPatch = (baseEtag: string, etag: string, base: number, version: number, ...rollouts: RolloutSnapshot[]) =>
    event('patch', { base, baseEtag, version, etag, rollouts, removed: [] } satisfies SnapshotPatch);

  function harness(fetched: ConfigSnapshot, fetchedEtag = '"fetched"') {
    let current: ConfigSnapshot | null = null;
    let currentEtag: string | undefined;
    const accepted: { version: number; etag: string | undefined }[] = [];
    let resyncs = 0;
    let finishResync!: () => void;
    const take = (snapshot: ConfigSnapshot, etag: string | undefined) => {
      current = snapshot;
      currentEtag = etag;
      accepted.push({ version: snapshot.version, etag });
    };
    const events = createStreamEvents({
      current: () => current,
      currentEtag: () => currentEtag,
      accept: take,
      resync: () => {
        resyncs++;
        return new Promise<void>((resolve) => (finishResync = () => (take(fetched, fetchedEtag), resolve())));
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

  it('applies a patch whose base ETag is the one in hand, even at the version in hand', () => {
    const h = harness(snap());
    h.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 3), rollout('b', 2)) }));
    // The corrected snapshot a server serves under the same version: another ETag, content changed.
    const corrected = { ...rollout('a', 3), live: 50 };
    h.events.handle(etagPatch('"A"', '"B"', 5, 5, corrected));
    expect(h.resyncs()).toBe(0);
    expect(h.current()).toEqual({ version: 5, rollouts: [corrected, rollout('b', 2)] });
    expect(h.accepted.at(-1)).toEqual({ version: 5, etag: '"B"' });
    // Then by ETag, not version: the patch with its ETag in hand is skipped, the next applies.
    h.events.handle(etagPatch('"A"', '"B"', 5, 5, corrected));
    h.events.handle(etagPatch('"B"', '"C"', 5, 6, rollout('b', 3)));
    expect(h.resyncs()).toBe(0);
    expect(h.accepted.map((a) => a.etag)).toEqual(['"A"', '"B"', '"C"']);
  });

  it('does not ignore a patch at the version in hand whose ETag differs: it fetches the snapshot again', async () => {
    const h = harness(snap(rollout('a', 4), rollout('b', 2)), '"D"');
    h.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 3), rollout('b', 2)) }));
    // Computed from a snapshot this client never held: not applied, not dropped as in hand.
    h.events.handle(etagPatch('"X"', '"B"', 4, 5, { ...rollout('a', 3), live: 50 }));
    expect(h.resyncs()).toBe(1);
    expect(h.accepted).toHaveLength(1);
    h.finishResync();
    await h.events.settled();
    expect(h.accepted.at(-1)).toEqual({ version: 6, etag: '"D"' });

    // A server without baseEtag: the version rule, but an ETag other than the one in hand is not "already in hand".
    const old = harness(snap(rollout('a', 3), rollout('b', 2)));
    old.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 3), rollout('b', 2)) }));
    old.events.handle(event('patch', { base: 4, version: 5, etag: '"B"', rollouts: [{ ...rollout('a', 3), live: 50 }], removed: [] }));
    expect(old.resyncs()).toBe(1);
    expect(old.accepted).toHaveLength(1);
  });

  it('refetches instead of applying a patch whose base ETag is not the one in hand, whatever its base version', () => {
    const h = harness(snap());
    h.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 2), rollout('b', 1)) }));
    h.events.handle(etagPatch('"other"', '"B"', 3, 4, rollout('a', 3)));
    expect(h.resyncs()).toBe(1);
    expect(h.current()).toEqual(snap(rollout('a', 2), rollout('b', 1)));
    // Nothing to match with: a snapshot taken without an ETag places no patch that names one.
    const bare = harness(snap());
    bare.events.handle(event('snapshot', snap(rollout('a', 2), rollout('b', 1))));
    bare.events.handle(etagPatch('"A"', '"B"', 3, 4, rollout('a', 3)));
    expect(bare.resyncs()).toBe(1);
    expect(bare.accepted).toHaveLength(1);
  });

  it('after a refetch, applies the held patches that follow on and fetches again only if the last of them does not', async () => {
    const h = harness(snap(rollout('a', 4), rollout('b', 2)), '"C"');
    h.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 2), rollout('b', 2)) }));
    h.events.handle(etagPatch('"gone"', '"B"', 3, 5, rollout('a', 3))); // its base went missing
    expect(h.resyncs()).toBe(1);
    // Held meanwhile: one the refetch already includes, the one leading to it, and one on top of it.
    h.events.handle(etagPatch('"B"', '"C"', 5, 6, rollout('a', 4)));
    h.events.handle(etagPatch('"C"', '"E"', 6, 7, rollout('b', 3)));
    h.finishResync();
    await h.events.settled();
    expect(h.resyncs()).toBe(1);
    expect(h.accepted.map((a) => a.etag)).toEqual(['"A"', '"C"', '"E"']);
    expect(h.current()).toEqual(snap(rollout('a', 4), rollout('b', 3)));

    // The last held patch does not follow on from what the refetch gave: fetched once more.
    const g = harness(snap(rollout('a', 4), rollout('b', 2)), '"C"');
    g.events.handle(event('put', { etag: '"A"', snapshot: snap(rollout('a', 2), rollout('b', 2)) }));
    g.events.handle(etagPatch('"gone"', '"B"', 3, 5, rollout('a', 3)));
    g.events.handle(etagPatch('"C"', '"E"', 6, 7, rollout('b', 3)));
    g.events.handle(etagPatch('"F"', '"G"', 8, 9, rollout('b', 4)));
    g.finishResync();
    await g.events.settled();
    expect(g.accepted.map((a) => a.etag)).toEqual(['"A"', '"C"', '"E"']);
    expect(g.resyncs()).toBe(2);
  });
});
