/**
 * The events this client dropped, by reason, for `status`: each reason is
 * warned about once, the first time (the counts are in `status.droppedBy` and
 * on the server). A refusal is reported as an error already, saying so.
 */
import type { DropReason } from '@rollcall/protocol';

const DROP_WARNINGS: Partial<Record<DropReason, string>> = {
  buffer_full: 'the report buffer is full: events are being dropped (they are counted and reported as dropped)',
  queue_full: 'the report queue is full while the server cannot be reached: messages and samples are being dropped (counted and reported as dropped; counts are kept)',
};

export function createDropTally(logger: { warn(message: string): void }) {
  let dropped = 0;
  const droppedBy: Partial<Record<DropReason, number>> = {};
  return {
    add(reason: DropReason, count: number): void {
      dropped += count;
      const warning = DROP_WARNINGS[reason];
      if (droppedBy[reason] === undefined && warning !== undefined) logger.warn(warning);
      droppedBy[reason] = (droppedBy[reason] ?? 0) + count;
    },
    get dropped(): number {
      return dropped;
    },
    /** A copy: the host may keep it. */
    droppedBy(): Partial<Record<DropReason, number>> {
      return { ...droppedBy };
    },
  };
}
