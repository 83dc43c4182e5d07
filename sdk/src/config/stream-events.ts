/**
 * Turns the stream's events into snapshots: `put` (the whole snapshot and its
 * ETag), `patch` (applied only on top of the snapshot it was computed from)
 * and `snapshot` (a whole snapshot from a server that sends no patches). A
 * patch whose base is not the snapshot in hand — a poll slipped in, or an
 * event went missing — is never guessed at: the whole snapshot is fetched
 * again, and the patches that arrive meanwhile are applied after it if they
 * follow on.
 *
 * Which snapshot is in hand is judged by ETag, as everywhere else: two
 * snapshots can share a version (a server that read two states of its
 * database served both under one), so a patch is applied when its `baseEtag`
 * is the ETag in hand and is already in hand only when its `etag` is. A patch
 * from a server that sends no `baseEtag` falls back to the version rule.
 */
import { applyPatch, isPatch, type SnapshotPatch } from './patch.ts';
import type { ConfigSnapshot } from '@rollcall/protocol';
import type { SseEvent } from './sse.ts';
import { isSnapshot } from './validate-snapshot.ts';

export interface StreamEventsOptions {
  /** The last snapshot taken from the server (stream or poll), or null. */
  current(): ConfigSnapshot | null;
  /** The ETag of that snapshot, when the server gave one. */
  currentEtag(): string | undefined;
  /** Takes a snapshot from the server; `etag` is the one `GET /v1/sdk/config` gives it, when known. */
  accept(snapshot: ConfigSnapshot, etag: string | undefined): void;
  /** Fetches the whole snapshot (a poll). */
  resync(): Promise<void>;
  onError(error: unknown): void;
}

/** Patches held while a resync runs; past this, later ones wait for the next resync. */
const MAX_HELD = 1_000;

export function createStreamEvents(options: StreamEventsOptions) {
  let resyncing: Promise<void> | null = null;
  const held: SnapshotPatch[] = [];

  function resync(): void {
    resyncing = options
      .resync()
      .catch(options.onError)
      .finally(() => {
        resyncing = null;
        // In stream order: a patch that places (applied, or in hand) accounts for the ones before it,
        // so only one left unplaced after the last that placed asks for another fetch.
        let unplaced = false;
        for (const patch of held.splice(0)) unplaced = !place(patch);
        if (unplaced) resync();
      });
  }

  /** Applies the patch if it follows on from the snapshot in hand; true when it did or is in hand already. */
  function place(patch: SnapshotPatch): boolean {
    const current = options.current();
    if (current === null) return false;
    const etag = options.currentEtag();
    if (etag !== undefined && patch.etag === etag) return true;
    if (patch.baseEtag !== undefined) {
      if (patch.baseEtag !== etag) return false;
    } else if (patch.version <= current.version) {
      // A server without baseEtag: an older version is in hand unless the ETags say otherwise.
      return etag === undefined;
    } else if (patch.base !== current.version) {
      return false;
    }
    options.accept(applyPatch(current, patch), patch.etag);
    return true;
  }

  function patched(patch: SnapshotPatch): void {
    if (resyncing !== null) {
      if (held.length < MAX_HELD) held.push(patch);
      return;
    }
    if (!place(patch)) resync();
  }

  return {
    /** Handles one event; throws when the server sent something unreadable. */
    handle(event: SseEvent): void {
      if (event.event !== 'put' && event.event !== 'patch' && event.event !== 'snapshot') return;
      const body: unknown = JSON.parse(event.data);
      if (event.event === 'snapshot') {
        if (!isSnapshot(body)) throw new Error('the server sent something that is not a snapshot');
        options.accept(body, undefined);
      } else if (event.event === 'put') {
        const put = body as { etag?: unknown; snapshot?: unknown } | null;
        if (put === null || typeof put.etag !== 'string' || !isSnapshot(put.snapshot)) throw new Error('the server sent a put that is not a snapshot');
        options.accept(put.snapshot, put.etag);
      } else {
        if (!isPatch(body)) throw new Error('the server sent a patch that is not one');
        patched(body);
      }
    },
    /** Settles once a resync under way (if any) is through: for tests and `flush`-like waits. */
    settled: () => resyncing ?? Promise.resolve(),
  };
}
