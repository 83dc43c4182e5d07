/**
 * One SDK stream's sending rules. Every frame it writes is a buffer shared
 * with every other stream. At most one write is outstanding: a stream whose
 * client reads slowly is not queued a backlog of changes but sent the newest
 * whole snapshot once it has drained, and one that has not drained for
 * `stallMs` is ended (the SDK reconnects and is sent the snapshot again).
 */
import { HEARTBEAT_FRAME, putFrame, snapshotFrame } from './frames.ts';
import type { PublishedSnapshot } from './snapshot.ts';

export interface SessionOptions {
  /** The client asked for `put`/`patch` events; otherwise every change is a whole `snapshot`. */
  patches: boolean;
  /** The frame that stands for a whole snapshot, when not the SDK's own (`put` with patches, `snapshot` without): OFREP's event stream sends its notice. */
  whole?: (published: PublishedSnapshot) => Uint8Array;
  /** Writes one frame; resolves once the stream has taken it. */
  write(bytes: Uint8Array): Promise<unknown>;
  end(): void;
  stallMs: number;
}

export function createStreamSession(options: SessionOptions) {
  const whole = options.whole ?? (options.patches ? putFrame : snapshotFrame);
  // What the client holds once the outstanding write (if any) is through: the version orders snapshots,
  // the ETag says whether two are the same (a change is judged by content, not by version alone).
  let sentVersion = -1;
  let sentEtag = '';
  let writingSince: number | null = null;
  let behind: PublishedSnapshot | null = null;

  function write(bytes: Uint8Array): void {
    writingSince = performance.now();
    options.write(bytes).then(
      () => {
        writingSince = null;
        if (behind === null) return;
        const latest = behind;
        behind = null;
        sentVersion = latest.snapshot.version;
        sentEtag = latest.etag;
        write(whole(latest));
      },
      () => options.end(),
    );
  }

  /** True (and the stream ended) when its outstanding write has waited too long. */
  function stalled(): boolean {
    if (writingSince === null || performance.now() - writingSince <= options.stallMs) return false;
    options.end();
    return true;
  }

  return {
    /**
     * A snapshot newer than the one before it (`from`, null on connect), and
     * the patch between them, computed once for every stream (null: none).
     */
    change(next: PublishedSnapshot, from: PublishedSnapshot | null, patch: () => Uint8Array | null): void {
      if (next.etag === sentEtag || next.snapshot.version < sentVersion) return;
      if (writingSince !== null) {
        if (!stalled()) behind = next;
        return;
      }
      const bytes = options.patches && from !== null && from.etag === sentEtag && next.snapshot.version > sentVersion ? (patch() ?? whole(next)) : whole(next);
      sentVersion = next.snapshot.version;
      sentEtag = next.etag;
      write(bytes);
    },
    heartbeat(): void {
      // A stream still taking a frame needs no heartbeat to stay alive.
      if (writingSince === null) write(HEARTBEAT_FRAME);
      else stalled();
    },
  };
}
