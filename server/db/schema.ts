/**
 * Every table, in one place. snake_case columns, camelCase fields; times are
 * epoch milliseconds. Migrations under `migrations/` are generated from this
 * file by drizzle-kit (`npm run db:generate`) and never edited by hand.
 */
import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { KeyKind } from '../principal.ts';
import type { Guards, OnBreach, Step } from '../rollout-plan.ts';
import { COUNTERS, type CohortStatus, type CompareRules, type Counter, type DropReason, type Path, type RolloutState } from '@rollcall/protocol';

const counterColumn = (name: Counter) => integer(name).notNull().default(0);

/** One column per counter of the SDK's wire module, named as it is (a new counter needs only a migration here). */
function counterColumns(): Record<Counter, ReturnType<typeof counterColumn>> {
  return Object.fromEntries(COUNTERS.map((c) => [c, counterColumn(c)])) as Record<Counter, ReturnType<typeof counterColumn>>;
}

export const rollouts = sqliteTable('rollouts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull().unique(),
  description: text('description').notNull().default(''),
  salt: text('salt').notNull(),
  state: text('state').$type<RolloutState>().notNull(),
  /** The reason given with the last change of state. */
  stateReason: text('state_reason'),
  plan: text('plan', { mode: 'json' }).$type<Step[]>().notNull(),
  guards: text('guards', { mode: 'json' }).$type<Guards>().notNull(),
  onBreach: text('on_breach').$type<OnBreach>().notNull(),
  autoAdvance: integer('auto_advance', { mode: 'boolean' }).notNull(),
  /** Comparison rules every SDK merges with its own (null: none set). */
  compare: text('compare', { mode: 'json' }).$type<CompareRules>(),
  step: integer('step'),
  stepEnteredAt: integer('step_entered_at'),
  /** Guards measure from here: set on start, advance and resume, so a manual retry starts clean. */
  measuredSince: integer('measured_since'),
  /** When it was completed: the watch after completion runs for `guards.watchSeconds` from here. */
  completedAt: integer('completed_at'),
  /** When the watch after completion last announced a breach (announced once, not every tick). */
  watchBreachedAt: integer('watch_breached_at'),
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
    /** When the cohort last became active (created, or re-activated by resume): guards measure from here. */
    activeSince: integer('active_since'),
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
  // By age too: retention deletes the oldest in slices, without reading the rest.
  (t) => [index('audit_rollout').on(t.rolloutKey, t.id), index('audit_at').on(t.at)],
);

/**
 * One row per accepted report batch: a retried batch is recognised and not counted twice. Indexed by
 * arrival, so retention deletes a day-old slice without reading the day's millions of newer rows.
 */
export const reportBatches = sqliteTable(
  'report_batches',
  {
    batchId: text('batch_id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [index('report_batches_received').on(t.receivedAt)],
);

/** Counts per rollout, cohort, path and one-second bucket, added to by every batch. */
export const cohortCounts = sqliteTable(
  'cohort_counts',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    /** Unix second. */
    bucket: integer('bucket').notNull(),
    ...counterColumns(),
  },
  (t) => [
    primaryKey({ columns: [t.rolloutId, t.cohort, t.path, t.bucket] }),
    // Covering: the controller sums every cohort's window from the index alone. Without it each
    // counted second was a lookup into the table (1,000 rollouts: millions of lookups a pass).
    index('cohort_counts_sums').on(t.rolloutId, t.cohort, t.path, t.bucket, ...COUNTERS.map((c) => t[c])),
  ],
);

/**
 * `cohort_counts` summed by minute (bucket: the unix second the minute starts), kept by triggers on
 * cohort_counts (see the migration `count_rollups`): a window's sums read its whole minutes here and
 * only the seconds at its edges there, so a controller pass reads a bounded number of rows per cohort.
 */
export const countMinutes = sqliteTable(
  'count_minutes',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    bucket: integer('bucket').notNull(),
    ...counterColumns(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.path, t.bucket] })],
);

/**
 * Ledger rows that are lost, late or replayed, by rollout, cohort, status and the second (`span` 1)
 * and minute (`span` 60) they were received in; kept by triggers on `messages` as rows change status
 * or are deleted. The guards count a window's bad messages from here, not from the ledger's rows.
 */
export const ledgerTallies = sqliteTable(
  'ledger_tallies',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    /** The path the messages ran on: a cohort is judged on one path (a reverted band's partners go on losing on old). */
    path: text('path').$type<Path>().notNull(),
    span: integer('span').$type<1 | 60>().notNull(),
    /** Unix second at the start of the second or minute. */
    bucket: integer('bucket').notNull(),
    status: text('status').$type<'lost' | 'late' | 'replayed'>().notNull(),
    n: integer('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.path, t.span, t.bucket, t.status] })],
);

/**
 * Ledger rows per rollout and cohort that are lost, late or replayed, whenever received (kept by the
 * same triggers): replay progress without counting rows, and a cohort with none reads no tallies.
 */
export const ledgerTotals = sqliteTable(
  'ledger_totals',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    status: text('status').$type<'lost' | 'late' | 'replayed'>().notNull(),
    n: integer('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.status] })],
);

/** Latency histograms per rollout, cohort, path and minute: slot i holds durations up to 2^(i/4) µs. */
export const latencyCounts = sqliteTable(
  'latency_counts',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    /** `authoritative` or `candidate` (the compared path). */
    role: text('role').$type<'authoritative' | 'candidate'>().notNull(),
    /** Unix second at the start of the minute. */
    bucket: integer('bucket').notNull(),
    slot: integer('slot').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.rolloutId, t.cohort, t.path, t.role, t.bucket, t.slot] }),
    // The controller reads every rollout's window of timings each pass (when messages are due, the latency
    // guard): by rollout and minute, not through every cohort's whole history.
    index('latency_counts_by_bucket').on(t.rolloutId, t.bucket),
  ],
);

/**
 * The message ledger: every message that was open at a flush, failed, or
 * settled in another process, by id. `open` rows past the grace are lost.
 */
export const messages = sqliteTable(
  'messages',
  {
    rolloutId: integer('rollout_id').notNull(),
    messageId: text('message_id').notNull(),
    partnerId: text('partner_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    status: text('status').$type<'open' | 'processed' | 'failed' | 'lost' | 'late' | 'replayed'>().notNull(),
    /** Server time (SDK time corrected for clock skew); null when only the settling process reported it. */
    receivedAt: integer('received_at'),
    settledAt: integer('settled_at'),
    error: text('error'),
    /** The SDK instance replaying this lost message, and until when it holds it. */
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    replayAttempts: integer('replay_attempts').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.rolloutId, t.messageId] }),
    index('messages_open').on(t.rolloutId, t.receivedAt).where(sql`status = 'open'`),
    index('messages_by_status').on(t.rolloutId, t.status, t.receivedAt),
    // Covering for the per-cohort ledger counts (lost, late, replayed in the window) and the open
    // rows per cohort: no table lookups. Status before cohort, so that a read of one status never
    // walks the rollout's whole ledger.
    // The path last: a cohort's count is of its measured path, read from the index without a range lost.
    index('messages_by_status_cohort').on(t.rolloutId, t.status, t.cohort, t.receivedAt, t.path),
    index('messages_settled').on(t.rolloutId, t.settledAt).where(sql`status IN ('processed', 'failed')`),
    // Lost messages by lease: replay progress counts the leased ones without reading every lost row.
    index('messages_lost_leases').on(t.rolloutId, t.leaseUntil).where(sql`status = 'lost'`),
  ],
);

/** Mismatch samples with their diffs: at most 20 per rollout, cohort and minute. */
export const mismatchSamples = sqliteTable(
  'mismatch_samples',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    /** Unix second at the start of the minute, for the per-minute limit. */
    minute: integer('minute').notNull(),
    at: integer('at').notNull(),
    messageId: text('message_id').notNull(),
    partnerId: text('partner_id').notNull(),
    authoritative: text('authoritative').$type<'old' | 'new'>().notNull(),
    kind: text('kind').$type<'diff' | 'error' | 'timeout'>().notNull(),
    diffs: text('diffs', { mode: 'json' }).notNull(),
    instanceId: text('instance_id').notNull(),
  },
  (t) => [index('mismatch_samples_by_minute').on(t.rolloutId, t.cohort, t.minute), index('mismatch_samples_recent').on(t.rolloutId, t.id)],
);

/** Fields SDKs found to differ between two runs of the old path, and how often (see server/health/noise.ts). */
export const learnedNoise = sqliteTable(
  'learned_noise',
  {
    rolloutId: integer('rollout_id').notNull(),
    path: text('path').notNull(),
    firstSeenAt: integer('first_seen_at').notNull(),
    /** Double runs in which the field differed. */
    differing: integer('differing').notNull().default(1),
    /** When it had differed often enough to be taken for noise, and after how many double runs. */
    learnedAt: integer('learned_at'),
    learnedFrom: integer('learned_from'),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.path] })],
);

/** Per rollout: double runs of the old path reported so far (a row exists once any SDK learns noise). */
export const noiseRuns = sqliteTable('noise_runs', {
  rolloutId: integer('rollout_id').primaryKey(),
  runs: integer('runs').notNull().default(0),
  startedAt: integer('started_at').notNull(),
});

/** Mismatches by the set of fields they differ in (sorted paths joined by newlines), per cohort, path and second. */
export const mismatchFieldSets = sqliteTable(
  'mismatch_field_sets',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    /** Unix second, as in cohort_counts. */
    bucket: integer('bucket').notNull(),
    fields: text('fields').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.path, t.bucket, t.fields] })],
);

/**
 * Events SDKs dropped, by reason (`refused`, `buffer_full`, `queue_full`), per cohort, path and
 * minute. Rows exist only where something was dropped; the total is also in `cohort_counts.dropped`.
 */
export const droppedEvents = sqliteTable(
  'dropped_events',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    reason: text('reason').$type<DropReason>().notNull(),
    /** Unix second at the start of the minute. */
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.reason, t.path, t.bucket] })],
);

/** Kill-switch subscriptions. Never hard-deleted: DELETE sets `status` to `deleted`. */
export const callbacks = sqliteTable(
  'callbacks',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    /** Only this rollout's events; null for every rollout. */
    rolloutKey: text('rollout_key'),
    /** Only these event types; null for all of them. */
    events: text('events', { mode: 'json' }).$type<string[] | null>(),
    description: text('description').notNull().default(''),
    /** `whsec_…`: the server signs with it, so it is stored as is (see the README's security notes). */
    secret: text('secret').notNull(),
    /** The secret before the last rotation, which also signs until `previousSecretUntil`. */
    previousSecret: text('previous_secret'),
    previousSecretUntil: integer('previous_secret_until'),
    status: text('status').$type<'enabled' | 'disabled' | 'deleted'>().notNull(),
    statusReason: text('status_reason'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('callbacks_by_status').on(t.status, t.rolloutKey)],
);

/** The outbox: one row per announced event, written in the transaction of the decision it announces. */
export const callbackMessages = sqliteTable(
  'callback_messages',
  {
    /** `msg_…`, sent as `webhook-id`: the same on every attempt and redelivery. */
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    rolloutKey: text('rollout_key').notNull(),
    /** The exact JSON body that is signed and sent. */
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('callback_messages_by_rollout').on(t.rolloutKey, t.createdAt)],
);

/** One message to one subscription, and where its retries stand. */
export const callbackDeliveries = sqliteTable(
  'callback_deliveries',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id').notNull(),
    callbackId: text('callback_id').notNull(),
    status: text('status').$type<'pending' | 'succeeded' | 'failed' | 'cancelled'>().notNull(),
    /** `schedule`: the whole retry schedule; `once`: a redelivery asked for by hand, one attempt. */
    mode: text('mode').$type<'schedule' | 'once'>().notNull(),
    /** Attempts made in the current mode (the schedule's position). */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    /** The server sending it now, and until when no other server may. */
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('callback_deliveries_due').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    index('callback_deliveries_by_callback').on(t.callbackId, t.createdAt),
    index('callback_deliveries_by_message').on(t.messageId),
    index('callback_deliveries_failed').on(t.callbackId, t.finishedAt).where(sql`status = 'failed'`),
  ],
);

/** Every attempt to send, as the delivery log shows it. */
export const callbackAttempts = sqliteTable(
  'callback_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: text('delivery_id').notNull(),
    callbackId: text('callback_id').notNull(),
    at: integer('at').notNull(),
    /** The HTTP status, or null when no response came (refused address, timeout, connection error). */
    status: integer('status'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
    /** The first characters of the response body. */
    responseExcerpt: text('response_excerpt'),
    /** The address connected to, after the address checks. */
    address: text('address'),
    /** When the next attempt is due, or null when this was the last. */
    nextAttemptAt: integer('next_attempt_at'),
  },
  (t) => [index('callback_attempts_by_delivery').on(t.deliveryId, t.id), index('callback_attempts_by_callback').on(t.callbackId, t.id)],
);

/**
 * SDK instances reporting on a rollout, and through when each has reported
 * everything it saw (its watermark, server time, only ever raised): a due
 * message is judged only once every live reporter is past its due time.
 */
export const reporters = sqliteTable(
  'reporters',
  {
    rolloutId: integer('rollout_id').notNull(),
    instanceId: text('instance_id').notNull(),
    watermark: integer('watermark').notNull(),
    lastSeen: integer('last_seen').notNull(),
    /** The last batch that named this rollout. */
    lastEventAt: integer('last_event_at').notNull(),
    /** Its last batch was `final`: it closed, and is waited for no more. */
    leftAt: integer('left_at'),
    /** Declared gone after `reporterTimeoutSeconds` of silence; cleared when it reports again. */
    goneAt: integer('gone_at'),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.instanceId] }), index('reporters_by_instance').on(t.instanceId)],
);

/**
 * Lost messages found but not yet announced: `messages.lost` goes out at most
 * once per rollout every 30 s, carrying everything found since the last one.
 */
export const lostAnnouncements = sqliteTable('lost_announcements', {
  rolloutId: integer('rollout_id').primaryKey(),
  pending: integer('pending').notNull().default(0),
  byCohort: text('by_cohort', { mode: 'json' }).$type<Record<string, number>>().notNull(),
  sample: text('sample', { mode: 'json' }).$type<string[]>().notNull(),
  /** When the first loss not yet announced was found. */
  since: integer('since'),
  lastAnnouncedAt: integer('last_announced_at'),
});

/**
 * One row, rewritten by `GET /readyz` while storage is failing: a committed
 * write needs the lock and room on disk, which a read does not prove.
 */
export const storageProbe = sqliteTable('storage_probe', {
  id: integer('id').primaryKey(),
  probedAt: integer('probed_at').notNull(),
  /** Room for a report batch's worth of bytes, written and cleared by readiness while reports cannot commit. */
  payload: blob('payload'),
});

/**
 * Which server runs the controller's passes, and until when (one row): the
 * others wait, so servers sharing a libsql server do not each repeat the
 * pass's reads; one takes over when the holder's time runs out
 * (controller/lease.ts). Decisions stay compare-and-sets: two holders at
 * once (clock skew, a holder paused past its time) still decide once.
 */
export const controllerLease = sqliteTable('controller_lease', {
  id: integer('id').primaryKey(),
  holder: text('holder').notNull(),
  until: integer('until').notNull(),
});

/**
 * How many times what a rollout's health is measured from has changed: its counts, its ledger's lost,
 * late and replayed rows (through their totals), its drops, its mismatch field sets and its learned
 * noise (migration 0020), and its latency rows (0022). Kept by triggers inside every writer's
 * transaction, so a controller pass re-reads and re-measures only the rollouts whose figures can have
 * moved (health/measure-memo.ts).
 */
export const measureInputs = sqliteTable('measure_inputs', {
  rolloutId: integer('rollout_id').primaryKey(),
  changes: integer('changes').notNull(),
});

/**
 * How many times any rollout row was written (inserted, changed or deleted): one row, moved by triggers on
 * `rollouts` inside the writer's transaction (migration 0022). A controller pass reads it first and reads
 * the rollouts it watches again only when it moved (rollouts/service.ts `controlled`).
 */
export const rolloutsRevision = sqliteTable('rollouts_revision', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});

/**
 * The count sums of every cohort window the controller watches, kept by triggers on `cohort_counts`
 * as counts are written (migration 0021; health/window-sums.ts says how a pass reads and moves them):
 * every counter over buckets from `lo` on, and `due`, what was received in [lo, de). So a pass over
 * busy rollouts reads a row per cohort, not the seconds and minutes of its window.
 */
export const countWindows = sqliteTable(
  'count_windows',
  {
    rolloutId: integer('rollout_id').notNull(),
    cohort: text('cohort').notNull(),
    path: text('path').$type<Path>().notNull(),
    /** First bucket (unix s) summed. */
    lo: integer('lo').notNull(),
    /** `due` sums `received` of the buckets in [lo, de). */
    de: integer('de').notNull(),
    due: integer('due').notNull(),
    ...counterColumns(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.cohort, t.path] })],
);
