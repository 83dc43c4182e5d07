/**
 * Messages the host reports by id (`received`, `processed`, `failed`) rather
 * than through `run()`: each is counted in the cell its partner routes to, a
 * settlement in the cell it was received in when this process received it and
 * still remembers it (in-flight.ts), otherwise where its partner routes now.
 */
import type { Path } from '@rollcall/protocol';
import type { Evaluator } from '../evaluation/evaluator.ts';
import type { Reporter } from './reporter.ts';

/** The host's MessageRef (shadow/handlers.ts), as a host may pass it: checked here, never trusted. */
interface MessageRef {
  partnerId: string;
  messageId: string;
}

export function createMessagesById(evaluator: Evaluator, reporter: Reporter) {
  return {
    /** A message arrived; `processed` or `failed` will follow, here or in another process. */
    received(rolloutKey: string, message: MessageRef): void {
      const route = { path: 'old' as Path, cohort: 'baseline' };
      if (!evaluator.route(rolloutKey, message?.partnerId, route) || typeof message.messageId !== 'string' || message.messageId === '') return;
      reporter.receivedById(reporter.cell(rolloutKey, route.cohort, route.path), message.messageId, message.partnerId, performance.now());
    },

    settle(rolloutKey: string, message: MessageRef, ok: boolean, error?: string): void {
      if (typeof message?.messageId !== 'string' || message.messageId === '' || !evaluator.has(rolloutKey)) return;
      const partnerId = typeof message.partnerId === 'string' ? message.partnerId : '';
      reporter.settleById(rolloutKey, message.messageId, partnerId, ok, performance.now(), () => {
        const route = { path: 'old' as Path, cohort: 'baseline' };
        evaluator.route(rolloutKey, partnerId, route);
        return reporter.cell(rolloutKey, route.cohort, route.path);
      }, error);
    },
  };
}
