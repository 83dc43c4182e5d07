/**
 * Fans the SDK snapshot out to every connected stream. A change committed by
 * this server is announced on the change feed and goes out at once; a change
 * committed by another server on the same database is noticed by a cheap
 * version check every `watchMs`. Each subscriber is told of every newer
 * snapshot with the patch from the one before, computed once per change for
 * all of them (frames.ts), so a change costs the same bytes however many
 * rollouts there are.
 */
import type { ChangeFeed } from '../changes.ts';
import type { Logger } from '../logger.ts';
import { patchFrame } from './frames.ts';
import type { PublishedSnapshot, SnapshotSource } from './snapshot.ts';

export interface StreamSubscriber {
  /** A newer snapshot, the one it follows (null: none), and the patch between them (null: none possible). */
  change(next: PublishedSnapshot, from: PublishedSnapshot | null, patch: () => Uint8Array | null): void;
  heartbeat(): void;
  /** The server is shutting down. */
  close(): void;
}

export interface HubOptions {
  snapshots: SnapshotSource;
  changes: ChangeFeed;
  logger: Logger;
  heartbeatMs?: number;
  watchMs?: number;
  /** A stream whose client has not taken a frame for this long is ended (60 s). */
  stallMs?: number;
  /** True when the error was a storage fault, already counted and logged once per outage. */
  onError?: (error: unknown) => boolean;
}

export function createStreamHub(options: HubOptions) {
  const { snapshots, logger } = options;
  const subscribers = new Set<StreamSubscriber>();
  let latest: PublishedSnapshot | null = null;
  let refreshing: Promise<void> | null = null;
  let again = false;
  const timers: NodeJS.Timeout[] = [];

  async function refreshOnce(): Promise<void> {
    const published = await snapshots.current();
    if (latest !== null && published.snapshot.version <= latest.snapshot.version && published.etag === latest.etag) return;
    const from = latest;
    latest = published;
    let patch: Uint8Array | null | undefined;
    const patchOnce = () => (patch === undefined ? (patch = from === null ? null : patchFrame(from, published)) : patch);
    for (const subscriber of subscribers) subscriber.change(published, from, patchOnce);
  }

  /** Single flight: a refresh asked for while one runs runs once more after it. */
  function refresh(): Promise<void> {
    if (refreshing !== null) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        do {
          again = false;
          await refreshOnce();
        } while (again);
      } catch (error) {
        if (options.onError?.(error) !== true) logger.warn('could not refresh the SDK snapshot', { error: String(error) });
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  options.changes.subscribe(() => void refresh());

  return {
    refresh,
    stallMs: options.stallMs ?? 60_000,

    /** The newest snapshot (refreshed first), for a stream that just connected. */
    async current(): Promise<PublishedSnapshot> {
      await refresh();
      return latest ?? (await snapshots.current());
    },

    /**
     * The snapshot held in memory, once a refresh under way has finished (so a
     * change this server committed is seen at once): no database read, except
     * the first time, before any snapshot was loaded.
     */
    async inMemory(): Promise<PublishedSnapshot> {
      if (refreshing !== null) await refreshing;
      if (latest === null) await refresh();
      return latest ?? (await snapshots.current());
    },

    subscribe(subscriber: StreamSubscriber): () => void {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },

    get connected(): number {
      return subscribers.size;
    },

    /** Starts heartbeats and the watch for other servers' changes. Called by main.ts. */
    start(): void {
      const heartbeat = setInterval(() => {
        for (const subscriber of subscribers) subscriber.heartbeat();
      }, options.heartbeatMs ?? 15_000);
      const watch = setInterval(() => void refresh(), options.watchMs ?? 250);
      heartbeat.unref();
      watch.unref();
      timers.push(heartbeat, watch);
    },

    /** Stops the timers and ends every stream. */
    stop(): void {
      for (const timer of timers.splice(0)) clearInterval(timer);
      for (const subscriber of [...subscribers]) subscriber.close();
      subscribers.clear();
    },
  };
}

export type StreamHub = ReturnType<typeof createStreamHub>;
