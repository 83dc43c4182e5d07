/**
 * Subscriptions and redelivery: the rules, each change in one write
 * transaction with its audit entry. A secret is returned when it is made
 * (create, rotate) and never again.
 */
import { isIP } from 'node:net';
import { recordAudit } from '../audit/service.ts';
import { iso, type Clock } from '../clock.ts';
import type { Database, Transaction } from '../db/database.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { hostOf, type AddressPolicy } from './address-policy.ts';
import { systemResolver, type Resolver } from './sender.ts';
import { TEST_EVENT } from './events.ts';
import { newId } from './outbox.ts';
import type { CreateCallbackInput } from './schemas.ts';
import { generateSecret } from './signing.ts';
import * as store from './store.ts';
import { callbackView, deliveryView } from './view.ts';

/** After a rotation the old secret keeps signing this long, so receivers can switch without a gap. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** A bulk redelivery queues at most this many deliveries per call; call again for the rest. */
export const RECOVER_LIMIT = 1_000;

export interface CallbackServiceDeps {
  database: Database;
  clock: Clock;
  policy: AddressPolicy;
  /** Called after a commit that queued deliveries, so the worker sends them at once. */
  wake?: () => void;
  /** Resolves a URL's host at creation, as the sender does at every attempt. */
  resolve?: Resolver;
}

/** How long creation waits for the host to resolve before accepting the URL as it is. */
const RESOLVE_MS = 2_000;

export function createCallbackService(deps: CallbackServiceDeps) {
  const { database, clock, policy } = deps;
  const resolve = deps.resolve ?? systemResolver;

  /**
   * Refuses, when it is created, a URL every delivery would be refused: an address the policy refuses, or
   * a name that resolves only to such addresses (`localhost` without ROLLCALL_CALLBACK_ALLOW). A name that
   * does not resolve now is accepted: it may resolve later, and each attempt's log says what it met.
   */
  async function refuseUnreachable(url: string): Promise<void> {
    const host = hostOf(new URL(url));
    const literal = isIP(host) !== 0;
    const timeout = new Promise<null>((done) => setTimeout(done, RESOLVE_MS, null).unref());
    const candidates = literal ? [{ address: host }] : await Promise.race([resolve(host).catch(() => null), timeout]);
    if (candidates === null || candidates.length === 0) return;
    const verdicts = candidates.map((c) => policy.check(c.address));
    const refused = verdicts.find((v) => !v.allowed);
    if (refused === undefined || verdicts.some((v) => v.allowed)) return;
    const reason = refused.allowed ? '' : refused.reason;
    const hint = /ROLLCALL_CALLBACK_ALLOW/.test(reason) ? ' (a receiver on this machine or your network needs its range in ROLLCALL_CALLBACK_ALLOW, for example 127.0.0.0/8)' : '';
    throw badRequest('callback_address_refused', `${literal ? '' : `${host} resolves only to addresses callbacks may not reach: `}${reason}${hint}`);
  }

  async function load(tx: Transaction, id: string): Promise<store.CallbackRow> {
    const row = await store.findCallback(tx, id);
    if (row === undefined) throw notFound('callback', id);
    return row;
  }

  function audit(tx: Transaction, row: store.CallbackRow, action: string, actor: string, now: number, extra: { before?: unknown; after?: unknown; reason?: string | undefined } = {}) {
    return recordAudit(tx, { at: now, actor, action, rolloutKey: row.rolloutKey, subject: row.id, before: extra.before, after: extra.after ?? { url: row.url, status: row.status }, reason: extra.reason ?? null });
  }

  /** Changes the subscription's status; leaving `enabled` cancels its pending deliveries. */
  async function setStatus(id: string, status: store.CallbackStatus, action: string, actor: string, reason: string | undefined) {
    const now = clock.now();
    return database.write(async (tx) => {
      const row = await load(tx, id);
      if (row.status === status) return callbackView(row);
      await store.updateCallback(tx, id, { status, statusReason: reason ?? null, updatedAt: now });
      if (status !== 'enabled') await store.cancelPendingOfCallback(tx, id, now, `the subscription was ${status}`);
      const after = { ...row, status, statusReason: reason ?? null, updatedAt: now };
      await audit(tx, after, action, actor, now, { before: { status: row.status }, after: { status }, reason });
      return callbackView(after);
    });
  }

  return {
    async create(input: CreateCallbackInput, actor: string) {
      await refuseUnreachable(input.url);
      const now = clock.now();
      const row: store.CallbackRow = {
        id: newId('cb'),
        url: input.url,
        rolloutKey: input.rollout ?? null,
        events: input.events === undefined ? null : [...new Set(input.events)],
        description: input.description ?? '',
        secret: generateSecret(),
        previousSecret: null,
        previousSecretUntil: null,
        status: 'enabled',
        statusReason: null,
        createdAt: now,
        createdBy: actor,
        updatedAt: now,
      };
      await database.write(async (tx) => {
        await store.insertCallback(tx, row);
        await audit(tx, row, 'callback.created', actor, now, { after: { url: row.url, rollout: row.rolloutKey, events: row.events } });
      });
      return { ...callbackView(row), secret: row.secret };
    },

    async get(id: string) {
      const row = await store.findCallback(database.db, id);
      if (row === undefined) throw notFound('callback', id);
      return callbackView(row);
    },

    async list(query: { rollout?: string | undefined; status?: store.CallbackStatus | 'all' | undefined; after?: string | undefined; limit: number }) {
      const statuses: store.CallbackStatus[] = query.status === 'all' ? ['enabled', 'disabled', 'deleted'] : query.status === undefined ? ['enabled', 'disabled'] : [query.status];
      const rows = await store.listCallbacks(database.db, { rolloutKey: query.rollout, statuses, after: query.after, limit: query.limit });
      return { items: rows.map(callbackView), nextCursor: rows.length === query.limit ? rows[rows.length - 1]!.id : null };
    },

    /** Soft delete: the subscription and its log stay, it receives nothing. `enable` brings it back. */
    remove: (id: string, actor: string, reason?: string) => setStatus(id, 'deleted', 'callback.deleted', actor, reason),
    disable: (id: string, actor: string, reason?: string) => setStatus(id, 'disabled', 'callback.disabled', actor, reason),
    enable: (id: string, actor: string, reason?: string) => setStatus(id, 'enabled', 'callback.enabled', actor, reason),

    /** A new secret; the current one keeps signing (as a second signature) for 24 h. */
    async rotateSecret(id: string, actor: string) {
      const now = clock.now();
      return database.write(async (tx) => {
        const row = await load(tx, id);
        if (row.status === 'deleted') throw conflict('callback_deleted', 'enable the subscription before rotating its secret');
        const secret = generateSecret();
        const previousSecretUntil = now + ROTATION_OVERLAP_MS;
        await store.updateCallback(tx, id, { secret, previousSecret: row.secret, previousSecretUntil, updatedAt: now });
        await audit(tx, row, 'callback.secret_rotated', actor, now, { after: { previousSecretExpiresAt: iso(previousSecretUntil) } });
        return { id, secret, previousSecretExpiresAt: iso(previousSecretUntil) };
      });
    },

    async deliveries(id: string, query: { status?: store.DeliveryRow['status'] | undefined; before?: string | undefined; limit: number }) {
      if ((await store.findCallback(database.db, id)) === undefined) throw notFound('callback', id);
      const before = query.before === undefined ? undefined : parseCursor(query.before);
      const rows = await store.listDeliveries(database.db, { callbackId: id, status: query.status, before, limit: query.limit });
      const attempts = await store.attemptsOf(database.db, rows.map((r) => r.delivery.id));
      const last = rows[rows.length - 1];
      return {
        items: rows.map((r) => deliveryView(r.delivery, r.type, r.rolloutKey, attempts.filter((a) => a.deliveryId === r.delivery.id))),
        nextCursor: rows.length === query.limit && last !== undefined ? `${last.delivery.createdAt}.${last.delivery.id}` : null,
      };
    },

    /**
     * Sends one delivery again. A finished one (failed, cancelled, even
     * succeeded) gets one attempt now with the same `webhook-id`; a pending
     * one has its next attempt brought forward.
     */
    /** Queues a `callback.test` event to this subscription alone, one attempt, now. */
    async sendTest(id: string, actor: string) {
      const now = clock.now();
      const sent = await database.write(async (tx) => {
        const callback = await load(tx, id);
        if (callback.status !== 'enabled') throw conflict('callback_not_enabled', `the subscription is ${callback.status}; enable it first`);
        const message = newId('msg');
        const delivery = newId('dlv');
        const data = { callback: id, rollout: callback.rolloutKey, reason: 'a test event, sent on request: nothing changed', actor };
        const body = JSON.stringify({ type: TEST_EVENT, timestamp: iso(now), data });
        await store.insertTestEvent(
          tx,
          { id: message, type: TEST_EVENT, rolloutKey: callback.rolloutKey ?? '', body, createdAt: now },
          { id: delivery, messageId: message, callbackId: id, status: 'pending', mode: 'once', nextAttemptAt: now, createdAt: now },
        );
        await audit(tx, callback, 'callback.tested', actor, now, { after: { delivery, message } });
        return { message, delivery, status: 'pending' as const };
      });
      deps.wake?.();
      return sent;
    },

    async retry(deliveryId: string, actor: string) {
      const now = clock.now();
      const view = await database.write(async (tx) => {
        const delivery = await store.findDelivery(tx, deliveryId);
        if (delivery === undefined) throw notFound('delivery', deliveryId);
        const callback = await load(tx, delivery.callbackId);
        if (callback.status !== 'enabled') throw conflict('callback_not_enabled', `the subscription is ${callback.status}; enable it first`);
        if (delivery.status === 'pending') await store.bringForward(tx, deliveryId, now);
        else await store.requeueOnce(tx, deliveryId, now);
        await audit(tx, callback, 'delivery.retried', actor, now, { after: { delivery: deliveryId, message: delivery.messageId, was: delivery.status } });
        return { id: deliveryId, status: 'pending' as const, nextAttemptAt: iso(now) };
      });
      deps.wake?.();
      return view;
    },

    /**
     * Redelivers every delivery of the subscription that failed at or after
     * `since`, oldest first, once each (one attempt; a delivery already queued
     * again is not queued twice).
     */
    async recover(id: string, since: number, actor: string) {
      const now = clock.now();
      const result = await database.write(async (tx) => {
        const callback = await load(tx, id);
        if (callback.status !== 'enabled') throw conflict('callback_not_enabled', `the subscription is ${callback.status}; enable it first`);
        const failed = await store.failedSince(tx, id, since, RECOVER_LIMIT);
        // All due now; the worker leases equally due deliveries oldest first.
        for (const delivery of failed) await store.requeueOnce(tx, delivery.id, now);
        await audit(tx, callback, 'callback.recovered', actor, now, { after: { since: iso(since), queued: failed.length } });
        return { queued: failed.length, deliveries: failed.map((d) => d.id), more: failed.length === RECOVER_LIMIT };
      });
      deps.wake?.();
      return result;
    },

    /** Retention: finished deliveries and their messages that finished before `before`, at most `limit`. */
    prune(before: number, limit: number): Promise<number> {
      return database.write((tx) => store.pruneFinished(tx, before, limit));
    },

    /** The newest deliveries of the events about one rollout, for the dashboard. */
    recentDeliveries(rolloutKey: string, limit: number) {
      return store.recentDeliveriesOf(database.db, rolloutKey, limit);
    },
  };
}

function parseCursor(cursor: string): { createdAt: number; id: string } {
  const match = /^(\d{1,15})\.(dlv_[0-9A-Za-z]{1,64})$/.exec(cursor);
  if (match === null) throw badRequest('invalid_cursor', 'before must be the nextCursor of a previous page');
  return { createdAt: Number(match[1]), id: match[2]! };
}

export type CallbackService = ReturnType<typeof createCallbackService>;
