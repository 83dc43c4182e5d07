/**
 * The controller's decision on a breach as one batch, for a libsql server:
 * there every statement of an interactive transaction is a round trip made
 * while holding the database's write lock, and three servers deciding at
 * once mostly waited for each other. The rollout is read first, outside the
 * lock; then the compare-and-set, its guard, the cohort reverted, the audit
 * entries and the outbox go as one batch, which the server runs as one
 * transaction. The guard right after the compare-and-set fails the batch
 * when it matched nothing (db/batch-guard.ts), so nothing after it is
 * written: several servers still decide once. The embedded file keeps the
 * interactive transaction (service.ts `mutate`), where a statement costs
 * microseconds and a batch would only add the read before it.
 */
import type { InStatement, InValue } from '@libsql/client';
import { auditStatement } from '../audit/service.ts';
import { failedGuard, failUnless } from '../db/batch-guard.ts';
import type { Database } from '../db/database.ts';
import { notFound, VersionConflict } from '../errors.ts';
import { breachCommand, type BreachReport } from './breach.ts';
import { decide, decisionChanges } from './lifecycle.ts';
import type { Cohort, RolloutAggregate } from './model.ts';
import type { RolloutChange } from './model.ts';
import * as store from './store.ts';
import { rolloutSummary } from './view.ts';

/** Statements announcing these changes in the decision's batch (the callbacks' outbox). */
export type AnnounceStatements = (changes: RolloutChange[]) => Promise<InStatement[]>;

const CONFLICT = 'rollout version moved';
const ACTOR = 'controller';

const statementOf = (query: { toSQL(): { sql: string; params: unknown[] } }): InStatement => {
  const { sql, params } = query.toSQL();
  return { sql, args: params as InValue[] };
};

const summary = (aggregate: RolloutAggregate) => rolloutSummary(aggregate.rollout, aggregate.cohorts, aggregate.pins.length);

/**
 * Applies `breach` to the rollout `key` at `expectedVersion` in one batch. Returns the rollout after it
 * and the event to publish, or null when the breach was already acted on; throws a VersionConflict when
 * the rollout moved (another server decided first).
 */
export async function decideBreachInBatch(
  deps: { database: Database; announce?: AnnounceStatements | undefined },
  key: string,
  expectedVersion: number,
  breach: BreachReport,
  now: number,
): Promise<{ after: RolloutAggregate; event: string } | null> {
  const { db } = deps.database;
  const aggregate = await store.loadAggregate(db, key);
  if (aggregate === undefined) throw notFound('rollout', key);
  const { rollout } = aggregate;
  if (rollout.version !== expectedVersion) throw new VersionConflict(`the rollout is at version ${rollout.version}, not ${expectedVersion}`, { version: rollout.version });
  const command = breachCommand(aggregate, breach);
  if (command === null) return null;

  const noted = { guard: breach.guard, onBreach: rollout.onBreach };
  const entry = { action: 'guard.breached', subject: breach.cohort, after: { ...noted, figures: breach.figures } };
  const figures = { ...noted, ...(breach.figures as object) };
  const revert = { at: now, kind: 'breach' as const, by: ACTOR, reason: breach.reason };
  let changes: Parameters<typeof store.rolloutUpdate>[3];
  let reverted: string[] = [];
  // The change's own audit entry and event; `preceding` come before it (the breach before its revert).
  let outcome: { event: string; subject: string | null; before?: unknown; after?: unknown };
  let preceding: typeof entry[] = [];
  if (command === 'announce') {
    // After completion every partner is on new and there is no cohort to send back: the breach is told, once.
    changes = { watchBreachedAt: now, updatedAt: now };
    outcome = { event: entry.action, subject: entry.subject, before: null, after: entry.after };
  } else {
    const decision = decide(aggregate, command);
    // A breach reverts or pauses; nothing here would add or bring back a cohort.
    if (decision.newCohort !== null || decision.reactivate.length > 0) throw new Error(`a breach decided ${decision.event}`);
    changes = decisionChanges(decision, breach.reason, now);
    reverted = decision.revert;
    outcome = { event: decision.event, subject: decision.subject };
    preceding = [entry];
  }

  // What the batch leaves, worked out here: the audit entries and events carry it.
  const revertedCohort = (c: Cohort): Cohort =>
    reverted.includes(c.name) && c.status === 'active' ? { ...c, status: 'reverted', revertedAt: revert.at, revertKind: revert.kind, revertedBy: revert.by, revertReason: revert.reason } : c;
  const after: RolloutAggregate = { rollout: { ...rollout, ...changes, version: expectedVersion + 1 }, cohorts: aggregate.cohorts.map(revertedCohort), pins: aggregate.pins };

  const audit = (action: string, subject: string | null, before: unknown, afterValue: unknown) =>
    statementOf(auditStatement(db, { at: now, actor: ACTOR, action, rolloutKey: key, subject, before, after: afterValue, reason: breach.reason }));
  const announced: RolloutChange[] = [...preceding, { action: outcome.event, subject: outcome.subject }].map((e) => ({
    type: e.action,
    at: now,
    rollout: after.rollout,
    cohort: e.subject,
    reason: breach.reason,
    actor: ACTOR,
    figures,
  }));
  const statements: InStatement[] = [
    statementOf(store.rolloutUpdate(db, rollout.id, expectedVersion, changes)),
    failUnless('changes() = 1', [], CONFLICT),
    ...reverted.map((name) => statementOf(store.cohortRevert(db, rollout.id, name, revert))),
    ...preceding.map((e) => audit(e.action, e.subject, null, e.after)),
    audit(outcome.event, outcome.subject, 'before' in outcome ? outcome.before : summary(aggregate), 'after' in outcome ? outcome.after : summary(after)),
    ...((await deps.announce?.(announced)) ?? []),
  ];
  try {
    await deps.database.writeBatch(statements);
  } catch (error) {
    if (failedGuard(error, CONFLICT)) throw new VersionConflict(`the rollout changed while this decision was made (it is no longer at version ${expectedVersion})`);
    throw error;
  }
  return { after, event: outcome.event };
}
