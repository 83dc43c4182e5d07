/**
 * In-process announcements of committed changes to what SDKs evaluate. The
 * SDK stream and the snapshot cache listen here; publishers call `publish`
 * only after their transaction has committed.
 */
export interface ConfigChange {
  rolloutKey: string;
  version: number;
  event: string;
  /** Who made the change: a key id, or `controller`. */
  actor: string;
}

export interface ChangeFeed {
  publish(change: ConfigChange): void;
  subscribe(listener: (change: ConfigChange) => void): () => void;
}

export function createChangeFeed(): ChangeFeed {
  const listeners = new Set<(change: ConfigChange) => void>();
  return {
    publish(change) {
      for (const listener of listeners) listener(change);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
