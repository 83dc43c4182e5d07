/**
 * One stream's sending rules, with frames from real snapshots: the same bytes
 * for every stream, one outstanding write at most, the newest whole snapshot
 * (not a backlog) for a stream that fell behind, and an end for one stalled.
 */
import { describe, expect, it } from 'vitest';
import { patchFrame, putFrame, snapshotFrame } from '../../server/sdk-config/frames.ts';
import type { PublishedSnapshot } from '../../server/sdk-config/snapshot.ts';
import { createStreamSession } from '../../server/sdk-config/stream-session.ts';
import type { RolloutSnapshot } from '@rollcall/protocol';

function rollout(key: string, version: number): RolloutSnapshot {
  return { key, salt: key, state: 'running', reason: null, version, step: 0, live: 1000, shadow: 0, verify: 0, cohorts: [{ name: 'c1', from: 0, to: 1000, status: 'active', reason: null }], pins: [] };
}
function published(...rollouts: RolloutSnapshot[]): PublishedSnapshot {
  const snapshot = { version: rollouts.reduce((s, r) => s + r.version, 0), rollouts };
  const body = JSON.stringify(snapshot);
  return { snapshot, body, etag: `"v${snapshot.version}"`, entries: new Map(rollouts.map((r) => [r.key, JSON.stringify(r)])) };
}
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function session(patches: boolean, stallMs = 60_000) {
  const writes: { bytes: Uint8Array; done: () => void }[] = [];
  let ended = 0;
  const s = createStreamSession({
    patches,
    stallMs,
    write: (bytes) => new Promise<void>((resolve) => writes.push({ bytes, done: resolve })),
    end: () => ended++,
  });
  return { s, writes, ended: () => ended };
}
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('a stream session', () => {
  const v1 = published(rollout('a', 1), rollout('b', 1));
  const v2 = published(rollout('a', 2), rollout('b', 1));
  const v3 = published(rollout('a', 2), rollout('b', 2));
  const v4 = published(rollout('a', 3), rollout('b', 2));
  const patch = (from: PublishedSnapshot, next: PublishedSnapshot) => () => patchFrame(from, next);

  it('writes the put, then a patch holding only the changed rollout, as the very buffers every stream shares', async () => {
    const one = session(true);
    const two = session(true);
    for (const { s, writes } of [one, two]) {
      s.change(v1, null, () => null);
      writes[0]!.done();
      await flush();
    }
    const shared = patchFrame(v1, v2)!;
    for (const { s } of [one, two]) s.change(v2, v1, () => shared);
    expect(one.writes[0]!.bytes).toBe(putFrame(v1));
    expect(two.writes[0]!.bytes).toBe(putFrame(v1));
    expect(one.writes[1]!.bytes).toBe(shared);
    expect(two.writes[1]!.bytes).toBe(shared);
    const data = JSON.parse(text(shared).split('\ndata: ')[1]!);
    expect(data).toEqual({ base: 2, baseEtag: '"v2"', version: 3, etag: '"v3"', rollouts: [rollout('a', 2)], removed: [] });
  });

  it('keeps one write outstanding and sends a stream that fell behind the newest whole snapshot, not the patches it missed', async () => {
    const { s, writes } = session(true);
    s.change(v1, null, () => null);
    s.change(v2, v1, patch(v1, v2)); // the put is still being written
    s.change(v3, v2, patch(v2, v3));
    expect(writes).toHaveLength(1);
    writes[0]!.done();
    await flush();
    expect(writes).toHaveLength(2);
    expect(writes[1]!.bytes).toBe(putFrame(v3));
    writes[1]!.done();
    await flush();
    s.change(v4, v3, patch(v3, v4));
    expect(text(writes[2]!.bytes)).toContain('event: patch');
  });

  it('sends whole snapshots to a stream that did not ask for patches, skipping none but the stale', async () => {
    const { s, writes } = session(false);
    s.change(v2, null, () => null);
    writes[0]!.done();
    await flush();
    s.change(v1, null, () => null); // older: never sent
    s.change(v3, v2, patch(v2, v3));
    expect(writes.map((w) => w.bytes)).toEqual([snapshotFrame(v2), snapshotFrame(v3)]);
  });

  it('ends a stream whose outstanding write has not been taken within the stall limit, and sends no heartbeat meanwhile', async () => {
    const { s, writes, ended } = session(true, 20);
    s.change(v1, null, () => null);
    s.heartbeat();
    expect(writes).toHaveLength(1);
    expect(ended()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    s.change(v2, v1, patch(v1, v2));
    expect(ended()).toBe(1);
    expect(writes).toHaveLength(1);
  });
});
