/**
 * API keys: creation (shown once), authentication with a short cache, soft
 * revoke and restore, pruning of unused keys (dry run first), and the
 * bootstrap admin key. `last_used_at` is written at most once a minute per
 * key and server (`flushUsage`), or at once when the stored time is over an
 * hour old, so that a pruning run elsewhere sees a key that came back to use.
 */
import { timingSafeEqual } from 'node:crypto';
import { recordAudit } from '../audit/service.ts';
import { iso, type Clock } from '../clock.ts';
import type { Database, Transaction } from '../db/database.ts';
import { conflict, notFound } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Principal } from '../principal.ts';
import { displayPrefix, generateKey, hashKey, newKeyId, type KeyKind } from './key-format.ts';
import * as store from './store.ts';

export type { Principal } from '../principal.ts';

const DAY = 86_400_000;
/** How long a verified (or refused) key is remembered. A revoke on another server takes effect within this. */
export const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;
const STALE_USE_MS = 3_600_000;
export const PRUNE_LIMIT = 100;
export const PRUNE_MIN_DAYS = 30;

function keyView(row: store.KeyRow, pendingUse?: number) {
  const lastUsedAt = Math.max(row.lastUsedAt ?? 0, pendingUse ?? 0) || null;
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    status: row.revokedAt === null ? ('active' as const) : ('revoked' as const),
    createdAt: iso(row.createdAt),
    createdBy: row.createdBy,
    lastUsedAt: iso(lastUsedAt),
    revokedAt: iso(row.revokedAt),
    revokedBy: row.revokedBy,
  };
}

export type KeyView = ReturnType<typeof keyView>;

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export function createKeyService(deps: { database: Database; clock: Clock; logger: Logger }) {
  const { database, clock, logger } = deps;
  const cache = new Map<string, { principal: Principal | null; expires: number }>();
  const pendingUse = new Map<string, number>();
  const writes = new Set<Promise<unknown>>();

  function track(write: Promise<unknown>): void {
    const settled = write.catch((error: unknown) => logger.warn('could not record key use', { error: String(error) }));
    writes.add(settled);
    void settled.finally(() => writes.delete(settled));
  }

  async function flushUsage(): Promise<void> {
    await Promise.all(writes);
    if (pendingUse.size === 0) return;
    const uses = [...pendingUse];
    pendingUse.clear();
    await database.write(async (tx) => {
      for (const [id, at] of uses) await store.touchLastUsed(tx, id, at);
    });
  }

  function newRow(kind: KeyKind, name: string, key: string, actor: string, now: number): store.KeyRow {
    return {
      id: newKeyId(),
      kind,
      name,
      prefix: displayPrefix(key),
      hash: hashKey(key),
      createdAt: now,
      createdBy: actor,
      lastUsedAt: null,
      revokedAt: null,
      revokedBy: null,
    };
  }

  async function insertWithAudit(tx: Transaction, row: store.KeyRow): Promise<void> {
    await store.insertKey(tx, row);
    await recordAudit(tx, { at: row.createdAt, actor: row.createdBy, action: 'key.created', subject: row.id, after: keyView(row) });
  }

  return {
    flushUsage,

    /** The principal behind a presented bearer key, or null for an unknown or revoked one. */
    async authenticate(presented: string): Promise<Principal | null> {
      if (presented.length < 16 || presented.length > 512) return null;
      const now = clock.now();
      const hash = hashKey(presented);
      const cached = cache.get(hash);
      let principal: Principal | null;
      if (cached !== undefined && cached.expires > now) {
        principal = cached.principal;
      } else {
        const row = await store.findKeyByHash(database.db, hash);
        principal = row !== undefined && row.revokedAt === null && sameHash(row.hash, hash) ? { keyId: row.id, kind: row.kind } : null;
        if (cache.size >= AUTH_CACHE_MAX) cache.clear();
        cache.set(hash, { principal, expires: now + AUTH_CACHE_MS });
        if (principal !== null && (row?.lastUsedAt ?? 0) < now - STALE_USE_MS) {
          const id = principal.keyId;
          track(database.write((tx) => store.touchLastUsed(tx, id, now)));
        }
      }
      if (principal !== null) pendingUse.set(principal.keyId, now);
      return principal;
    },

    async create(input: { kind: KeyKind; name: string }, actor: string) {
      const key = generateKey(input.kind);
      const row = newRow(input.kind, input.name, key, actor, clock.now());
      await database.write((tx) => insertWithAudit(tx, row));
      return { ...keyView(row), key };
    },

    async list(page: { after?: string | undefined; limit: number }) {
      const rows = await store.listKeys(database.db, page);
      return {
        items: rows.map((row) => keyView(row, pendingUse.get(row.id))),
        nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null,
      };
    },

    async revoke(id: string, actor: string, reason: string | undefined): Promise<KeyView> {
      const now = clock.now();
      const after = await database.write(async (tx) => {
        const row = await store.findKey(tx, id);
        if (row === undefined) throw notFound('key', id);
        if (row.revokedAt !== null) throw conflict('key_already_revoked', `key ${id} is already revoked`);
        if (row.kind === 'admin' && (await store.countActiveKeys(tx, 'admin')) <= 1) {
          throw conflict('last_admin_key', 'this is the last active admin key; create another admin key before revoking it');
        }
        await store.setRevoked(tx, id, now, actor);
        const after = { ...row, revokedAt: now, revokedBy: actor };
        await recordAudit(tx, { at: now, actor, action: 'key.revoked', subject: id, before: keyView(row), after: keyView(after), reason });
        return after;
      });
      cache.clear();
      return keyView(after);
    },

    async restore(id: string, actor: string, reason: string | undefined): Promise<KeyView> {
      const now = clock.now();
      const after = await database.write(async (tx) => {
        const row = await store.findKey(tx, id);
        if (row === undefined) throw notFound('key', id);
        if (row.revokedAt === null) throw conflict('key_not_revoked', `key ${id} is not revoked`);
        await store.setRestored(tx, id);
        const after = { ...row, revokedAt: null, revokedBy: null };
        await recordAudit(tx, { at: now, actor, action: 'key.restored', subject: id, before: keyView(row), after: keyView(after), reason });
        return after;
      });
      cache.clear();
      return keyView(after);
    },

    /**
     * Keys with no use for `unusedDays` (at least 30), oldest first, at most
     * 100, never the caller's own. A dry run unless `apply`.
     */
    async prune(input: { apply: boolean; unusedDays: number }, actor: string) {
      await flushUsage();
      const now = clock.now();
      const cutoff = now - Math.max(input.unusedDays, PRUNE_MIN_DAYS) * DAY;
      const candidates = await store.listUnusedKeys(database.db, { cutoff, exceptId: actor, limit: PRUNE_LIMIT });
      const revoked: string[] = [];
      if (input.apply && candidates.length > 0) {
        await database.write(async (tx) => {
          for (const row of candidates) {
            if (!(await store.revokeUnusedKey(tx, row.id, cutoff, now, actor))) continue;
            revoked.push(row.id);
            const after = { ...row, revokedAt: now, revokedBy: actor };
            await recordAudit(tx, {
              at: now,
              actor,
              action: 'key.revoked',
              subject: row.id,
              before: keyView(row),
              after: keyView(after),
              reason: `pruned: unused for ${input.unusedDays} days`,
            });
          }
        });
        cache.clear();
      }
      return {
        apply: input.apply,
        unusedDays: input.unusedDays,
        cutoff: iso(cutoff),
        limit: PRUNE_LIMIT,
        keys: candidates.map((row) => keyView(row)),
        revoked,
      };
    },

    /**
     * At start: stores `ROLLCALL_ADMIN_KEY` (hashed) if given, or, when no
     * active admin key exists, generates one and returns it to be printed once.
     */
    async bootstrap(adminKey: string | undefined): Promise<{ generated: string | null }> {
      const now = clock.now();
      if (adminKey !== undefined) {
        const existing = await store.findKeyByHash(database.db, hashKey(adminKey));
        if (existing === undefined) {
          const row = newRow('admin', 'ROLLCALL_ADMIN_KEY', adminKey, 'system', now);
          await database.write((tx) => insertWithAudit(tx, row));
        } else if (existing.revokedAt !== null) {
          logger.warn('ROLLCALL_ADMIN_KEY names a revoked key; it stays revoked', { keyId: existing.id });
        } else if (existing.kind !== 'admin') {
          logger.warn(`ROLLCALL_ADMIN_KEY names an existing ${existing.kind} key; it is not made an admin key`, { keyId: existing.id });
        }
        return { generated: null };
      }
      const key = generateKey('admin');
      const created = await database.write(async (tx) => {
        if ((await store.countActiveKeys(tx, 'admin')) > 0) return false;
        await insertWithAudit(tx, newRow('admin', 'generated at first start', key, 'system', now));
        return true;
      });
      return { generated: created ? key : null };
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
