/** What the client hands its host: events, an evaluation with its reasons, and its status. */
import type { ChangeEvent, RevertEvent, SnapshotSource } from './evaluation/evaluator.ts';
import type { Path, RolloutState, DropReason } from '@rollcall/protocol';

export interface ClientEvents {
  change: ChangeEvent;
  revert: RevertEvent;
  error: Error;
  [key: string]: unknown;
}

export interface Evaluation {
  path: Path;
  /** The cohort the partner is measured in (`c1`…, `shadow`, `baseline`, `pinned`, `completed`). */
  cohort: string;
  /** False when the snapshot has no such rollout (the path is then `old`). */
  known: boolean;
  state: RolloutState | null;
  version: number | null;
  /**
   * True while the snapshot has not been confirmed by a server since this client started (it came from
   * the backup file), and when `failClosedAfterMs` has routed everything to old.
   */
  stale: boolean;
  /** How long ago a server last confirmed this snapshot (ms; for a backup, since it was saved); null for a bootstrap never confirmed. */
  ageMs: number | null;
}

export interface ClientStatus {
  source: SnapshotSource;
  version: number | null;
  /** Messages received and neither settled nor forgotten (`maxRememberedIds`). */
  inFlight: number;
  buffered: number;
  /** Events dropped since start (each counted where it belongs and reported to the server as dropped). */
  dropped: number;
  /** `dropped` by reason: `refused`, `buffer_full`, `queue_full`. */
  droppedBy: Partial<Record<DropReason, number>>;
  /** Bytes (as JSON) of sealed reports the server has not acknowledged yet. */
  queuedBytes: number;
  stopped: boolean;
  /** As in `evaluate()`: the snapshot is from the backup and no server has answered yet (or fail-closed is on). */
  stale: boolean;
  ageMs: number | null;
}
