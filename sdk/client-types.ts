/** What the client hands its host: events, an evaluation with its reasons, and its status. */
import type { ChangeEvent, RevertEvent, SnapshotSource } from './evaluator.ts';
import type { Path, RolloutState } from './snapshot.ts';

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
  /** True when `failClosedAfterMs` has routed everything to old. */
  stale: boolean;
}

export interface ClientStatus {
  source: SnapshotSource;
  version: number | null;
  inFlight: number;
  buffered: number;
  dropped: number;
  stopped: boolean;
}
