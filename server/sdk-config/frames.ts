/**
 * The bytes of the SDK stream's events, built once per snapshot or change and
 * written as the same buffer to every stream (a thousand streams hold one
 * copy, not a thousand).
 *
 * - `snapshot` (streams that did not ask for patches): the whole snapshot, as
 *   `GET /v1/sdk/config` returns it; sent on connect and on every change.
 * - `put` (streams opened with `?patches=1`): `{ etag, snapshot }` on connect
 *   and whenever the stream fell behind.
 * - `patch`: `{ base, baseEtag, version, etag, rollouts, removed }` per
 *   change: the entries of the rollouts that changed, exactly as in the
 *   snapshot, and the keys of rollouts that are gone. Applied to the snapshot
 *   whose ETag is `baseEtag` (version `base`) it gives the snapshot at
 *   `version`, whose ETag is `etag`. SDKs match `baseEtag`, by content: two
 *   snapshots can share a version. `base` stays for SDKs that only know it.
 *   One event per change, so a client never holds a mix of two states.
 */
import type { PublishedSnapshot } from './snapshot.ts';

const encoder = new TextEncoder();
const snapshotFrames = new WeakMap<PublishedSnapshot, Uint8Array>();
const putFrames = new WeakMap<PublishedSnapshot, Uint8Array>();

function frame(event: string, id: number, data: string): Uint8Array {
  // JSON has no raw line breaks, so the data is one `data:` line.
  return encoder.encode(`event: ${event}\nid: ${id}\ndata: ${data}\n\n`);
}

function cached(cache: WeakMap<PublishedSnapshot, Uint8Array>, published: PublishedSnapshot, build: () => Uint8Array): Uint8Array {
  let bytes = cache.get(published);
  if (bytes === undefined) {
    bytes = build();
    cache.set(published, bytes);
  }
  return bytes;
}

export function snapshotFrame(published: PublishedSnapshot): Uint8Array {
  return cached(snapshotFrames, published, () => frame('snapshot', published.snapshot.version, published.body));
}

export function putFrame(published: PublishedSnapshot): Uint8Array {
  return cached(putFrames, published, () => frame('put', published.snapshot.version, `{"etag":${JSON.stringify(published.etag)},"snapshot":${published.body}}`));
}

/** The patch from `base` to `next`; null when no rollout entry differs. */
export function patchFrame(base: PublishedSnapshot, next: PublishedSnapshot): Uint8Array | null {
  const changed: string[] = [];
  for (const [key, entry] of next.entries) if (base.entries.get(key) !== entry) changed.push(entry);
  const removed = [...base.entries.keys()].filter((key) => !next.entries.has(key));
  if (changed.length === 0 && removed.length === 0) return null;
  const data = `{"base":${base.snapshot.version},"baseEtag":${JSON.stringify(base.etag)},"version":${next.snapshot.version},"etag":${JSON.stringify(next.etag)},"rollouts":[${changed.join(',')}],"removed":${JSON.stringify(removed)}}`;
  return frame('patch', next.snapshot.version, data);
}

export const HEARTBEAT_FRAME = encoder.encode(': heartbeat\n\n');
