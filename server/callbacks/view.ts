/** What the API shows of subscriptions and deliveries. Secrets are never part of a view. */
import { iso } from '../clock.ts';
import type { AttemptRow, CallbackRow, DeliveryRow } from './store.ts';

export function callbackView(row: CallbackRow) {
  return {
    id: row.id,
    url: row.url,
    rollout: row.rolloutKey,
    events: row.events,
    description: row.description,
    status: row.status,
    statusReason: row.statusReason,
    /** Until when the secret before the last rotation also signs. */
    previousSecretExpiresAt: row.previousSecretUntil !== null && row.previousSecret !== null ? iso(row.previousSecretUntil) : null,
    createdAt: iso(row.createdAt),
    createdBy: row.createdBy,
    updatedAt: iso(row.updatedAt),
  };
}

export function attemptView(row: AttemptRow) {
  return {
    at: iso(row.at),
    status: row.status,
    latencyMs: row.latencyMs,
    error: row.error,
    responseExcerpt: row.responseExcerpt,
    address: row.address,
    nextAttemptAt: iso(row.nextAttemptAt),
  };
}

export function deliveryView(row: DeliveryRow, type: string, rolloutKey: string, attempts: AttemptRow[]) {
  return {
    id: row.id,
    messageId: row.messageId,
    type,
    rollout: rolloutKey,
    status: row.status,
    mode: row.mode,
    nextAttemptAt: row.status === 'pending' ? iso(row.nextAttemptAt) : null,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    createdAt: iso(row.createdAt),
    finishedAt: iso(row.finishedAt),
    attempts: attempts.map(attemptView),
  };
}
