/**
 * The snapshot the client routes by, and how far to trust it: every new one
 * goes through here (from a server, the bootstrap option or the backup file),
 * is written to the backup when a server sent it, and is announced as a change
 * and as the reverts in it. A server's answer confirms the snapshot in hand;
 * its age since then is what `stale`, `ageMs` and fail-closed go by.
 */
import type { ConfigSnapshot } from '@rollcall/protocol';
import type { ChangeEvent, Evaluator, RevertEvent, SnapshotSource } from '../evaluation/evaluator.ts';
import { toError } from '../support/errors.ts';
import { readBackup, writeBackup } from './backup.ts';
import { isSnapshot } from './validate-snapshot.ts';

export interface SnapshotsOptions {
  evaluator: Evaluator;
  logger: { warn(message: string): void };
  bootstrap: ConfigSnapshot | undefined;
  backupPath: string | undefined;
  /** A server sent a snapshot (applied or not). */
  onServerSnapshot(): void;
  onChange(change: ChangeEvent): void;
  onRevert(revert: RevertEvent): void;
}

export function createSnapshots(options: SnapshotsOptions) {
  const { evaluator, logger, backupPath } = options;
  let confirmedAt = performance.now();
  /** Whether `confirmedAt` is a real confirmation (a server's, or a backup's save time) rather than the start. */
  let dated = false;

  function confirmed(): void {
    confirmedAt = performance.now();
    dated = true;
    evaluator.failClosed = false;
  }

  function take(snapshot: ConfigSnapshot, from: SnapshotSource): void {
    const applied = evaluator.apply(snapshot, from);
    if (from === 'server') {
      confirmed();
      options.onServerSnapshot();
    }
    if (applied === null) return;
    if (from === 'server' && backupPath !== undefined) {
      writeBackup(backupPath, snapshot, Date.now()).catch((error: unknown) => logger.warn(`cannot write the backup: ${toError(error).message}`));
    }
    if (applied.change.changed.length > 0) options.onChange(applied.change);
    for (const revert of applied.reverts) options.onRevert(revert);
  }

  return {
    take,

    /** The server answered that the snapshot in hand is current (a 304, or a stream that is up). */
    confirmed,

    /** The bootstrap option, when it is a snapshot: routed by at once, until something better arrives. */
    takeBootstrap(): void {
      if (options.bootstrap === undefined) return;
      if (isSnapshot(options.bootstrap)) take(options.bootstrap, 'bootstrap');
      else logger.warn('the bootstrap option is not a snapshot; ignored');
    },

    /** The backup file, unless a server or a newer bootstrap got here first; its age is since it was saved. */
    async takeBackup(path: string): Promise<void> {
      const backup = await readBackup(path);
      if (backup !== null && evaluator.source !== 'server' && (evaluator.snapshot === null || backup.snapshot.version >= evaluator.snapshot.version)) {
        take(backup.snapshot, 'backup');
        confirmedAt = performance.now() - Math.max(0, Date.now() - backup.savedAt);
        dated = true;
      }
    },

    /** A backup is stale until a server answers; so is everything once fail-closed; the age is since a server last confirmed it. */
    freshness(): { stale: boolean; ageMs: number | null } {
      const ageMs = dated ? Math.max(0, Math.round(performance.now() - confirmedAt)) : null;
      return { stale: evaluator.failClosed || evaluator.source === 'backup', ageMs };
    },

    /** Routes everything to old while no server has confirmed the snapshot for longer than `afterMs`. */
    checkFailClosed(afterMs: number): void {
      evaluator.failClosed = performance.now() - confirmedAt > afterMs;
    },
  };
}

export type Snapshots = ReturnType<typeof createSnapshots>;
