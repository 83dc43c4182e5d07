/**
 * Every table, in one place. snake_case columns, camelCase fields; times are
 * epoch milliseconds. Migrations under `migrations/` are generated from this
 * file by drizzle-kit (`npm run db:generate`) and never edited by hand.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { Guards, OnBreach, Step } from '../rollouts/model.ts';
import type { CohortStatus, Path, RolloutState } from '../../sdk/snapshot.ts';
import type { KeyKind } from '../keys/key-format.ts';

export const rollouts = sqliteTable('rollouts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull().unique(),
  description: text('description').notNull().default(''),
  salt: text('salt').notNull(),
  state: text('state').$type<RolloutState>().notNull(),
  plan: text('plan', { mode: 'json' }).$type<Step[]>().notNull(),
  guards: text('guards', { mode: 'json' }).$type<Guards>().notNull(),
  onBreach: text('on_breach').$type<OnBreach>().notNull(),
  autoAdvance: integer('auto_advance', { mode: 'boolean' }).notNull(),
  step: integer('step'),
  stepEnteredAt: integer('step_entered_at'),
  version: integer('version').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const cohorts = sqliteTable(
  'cohorts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    rolloutId: integer('rollout_id')
      .notNull()
      .references(() => rollouts.id),
    name: text('name').notNull(),
    step: integer('step').notNull(),
    fromBp: integer('from_bp').notNull(),
    toBp: integer('to_bp').notNull(),
    status: text('status').$type<CohortStatus>().notNull(),
    createdAt: integer('created_at').notNull(),
    revertedAt: integer('reverted_at'),
    /** `breach` when the controller reverted it (resume re-activates those), else `manual`. */
    revertKind: text('revert_kind').$type<'manual' | 'breach'>(),
    revertedBy: text('reverted_by'),
    revertReason: text('revert_reason'),
  },
  (t) => [uniqueIndex('cohorts_rollout_name').on(t.rolloutId, t.name)],
);

export const pins = sqliteTable(
  'pins',
  {
    rolloutId: integer('rollout_id')
      .notNull()
      .references(() => rollouts.id),
    partnerId: text('partner_id').notNull(),
    path: text('path').$type<Path>().notNull(),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.partnerId] })],
);

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  kind: text('kind').$type<KeyKind>().notNull(),
  name: text('name').notNull(),
  /** The first characters of the key, to recognise it by; the rest is never stored. */
  prefix: text('prefix').notNull(),
  /** SHA-256 of the whole key, hex. */
  hash: text('hash').notNull().unique(),
  createdAt: integer('created_at').notNull(),
  createdBy: text('created_by').notNull(),
  lastUsedAt: integer('last_used_at'),
  revokedAt: integer('revoked_at'),
  revokedBy: text('revoked_by'),
});

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    /** A key id, or `system` / `controller` for the server's own decisions. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    rolloutKey: text('rollout_key'),
    /** What inside the rollout it touched: a cohort name, a partner id, a key id. */
    subject: text('subject'),
    before: text('before', { mode: 'json' }),
    after: text('after', { mode: 'json' }),
    reason: text('reason'),
  },
  (t) => [index('audit_rollout').on(t.rolloutKey, t.id)],
);
