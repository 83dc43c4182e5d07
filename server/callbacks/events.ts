/**
 * What callbacks announce, and the one body shape every event is sent in:
 * `{ type, timestamp, data }`. `data` always names the rollout, its version
 * after the decision, the cohort (or null), the reason and who decided.
 */
import { iso } from '../clock.ts';
import { stepShares, type Rollout } from '../rollouts/model.ts';

export const CALLBACK_EVENTS = [
  'rollout.started',
  'rollout.advanced',
  'rollout.paused',
  'rollout.resumed',
  'rollout.completed',
  'cohort.reverted',
  'rollout.reverted',
  'guard.breached',
  'messages.lost',
  'reporter.gone',
] as const;

export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/**
 * Sent only when asked (`POST /v1/callbacks/:id/test`, `rollcall callbacks test`), to that one
 * subscription whatever its event filter, signed like every event: a receiver can check its
 * verification and routing before a real revert depends on it. It announces no decision.
 */
export const TEST_EVENT = 'callback.test';

const ANNOUNCED = new Set<string>(CALLBACK_EVENTS);

export function isCallbackEvent(event: string): event is CallbackEvent {
  return ANNOUNCED.has(event);
}

export interface EventData {
  rollout: string;
  version: number;
  state: string;
  step: number | null;
  /** Live and shadow percentages of the current step, after the decision. */
  live: number | null;
  shadow: number | null;
  cohort: string | null;
  reason: string | null;
  /** A key id, or `controller` for automatic decisions. */
  actor: string;
  /** The measurements behind an automatic decision (breach figures, lost counts); null for manual ones. */
  figures: unknown;
}

/** The event data for `rollout` as it stands after the decision. */
export function eventData(rollout: Rollout, about: { cohort: string | null; reason: string | null; actor: string; figures: unknown }): EventData {
  const shares = stepShares(rollout);
  return {
    rollout: rollout.key,
    version: rollout.version,
    state: rollout.state,
    step: rollout.step,
    live: shares.live,
    shadow: shares.shadow,
    cohort: about.cohort,
    reason: about.reason,
    actor: about.actor,
    figures: about.figures ?? null,
  };
}

export interface CallbackMessage {
  type: CallbackEvent;
  at: number;
  data: EventData;
}

/** The exact body that is signed and sent, serialised once when the event is written. */
export function messageBody(message: CallbackMessage): string {
  return JSON.stringify({ type: message.type, timestamp: iso(message.at), data: message.data });
}
