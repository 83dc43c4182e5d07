/**
 * The breach decided as one batch on a real libsql server (sqld): several
 * servers deciding the same breach at once revert, audit and announce once,
 * and a batch whose compare-and-set matched nothing writes nothing at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceStatements } from '../../../server/callbacks/outbox.ts';
import { createChangeFeed } from '../../../server/changes.ts';
import { createApp, type RollcallApp } from '../../../server/app.ts';
import { manualClock } from '../../../server/clock.ts';
import { openDatabase, type Database } from '../../../server/db/database.ts';
import { VersionConflict } from '../../../server/errors.ts';
import { silentLogger } from '../../../server/logger.ts';
import type { BreachReport } from '../../../server/rollouts/breach.ts';
import { createRolloutService } from '../../../server/rollouts/service.ts';
import { startSqld, type Sqld } from '../../helpers/sqld.ts';

let sqld: Sqld;
const databases: Database[] = [];
const apps: RollcallApp[] = [];
const clock = manualClock(Date.UTC(2026, 10, 1, 12, 0, 0));
const breach: BreachReport = { cohort: 'c1', kind: 'band', guard: 'loss', reason: 'guard loss breached in c1: 20 % lost', figures: { value: 0.2 } };

beforeAll(async () => {
  sqld = await startSqld();
  for (let i = 0; i < 3; i++) {
    const database = await openDatabase({ url: sqld.url });
    databases.push(database);
    apps.push(createApp({ database, clock, logger: silentLogger }));
  }
  const [{ services }] = apps as [RollcallApp];
  await services.callbacks.create({ url: 'https://hooks.example.com/rollcall', events: ['guard.breached', 'cohort.reverted'] } as never, 'test');
}, 60_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  for (const database of databases) database.close();
  await sqld?.stop();
});

async function startedRollout(key: string): Promise<number> {
  const rollouts = apps[0]!.services.rollouts;
  await rollouts.create({ key, plan: [{ live: 50 }] } as never, { actor: 'test' });
  return (await rollouts.transition(key, { action: 'start' }, { actor: 'test' })).version;
}

async function written(key: string) {
  const { client } = databases[0]!;
  const audit = (await client.execute({ sql: 'SELECT action FROM audit_log WHERE rollout_key = ? ORDER BY id', args: [key] })).rows.map((r) => r.action);
  const messages = (await client.execute({ sql: 'SELECT type FROM callback_messages WHERE rollout_key = ? ORDER BY type', args: [key] })).rows.map((r) => r.type);
  const deliveries = Number((await client.execute({ sql: 'SELECT count(*) AS n FROM callback_deliveries d JOIN callback_messages m ON m.id = d.message_id WHERE m.rollout_key = ?', args: [key] })).rows[0]!.n);
  return { audit, messages, deliveries };
}

describe('a breach decided as one batch on sqld', () => {
  it('three servers deciding the same breach at once revert, audit and announce once', async () => {
    const version = await startedRollout('race');
    const outcomes = await Promise.allSettled(apps.map((app) => app.services.rollouts.applyBreach('race', version, breach)));
    const decided = outcomes.filter((o) => o.status === 'fulfilled' && o.value !== null);
    expect(decided).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(VersionConflict);
    const after = await apps[2]!.services.rollouts.get('race');
    expect(after.rollout).toMatchObject({ state: 'paused', version: version + 1 });
    expect(after.cohorts).toMatchObject([{ name: 'c1', status: 'reverted', revertKind: 'breach', revertedBy: 'controller' }]);
    expect(await written('race')).toEqual({ audit: ['rollout.created', 'rollout.started', 'guard.breached', 'cohort.reverted'], messages: ['cohort.reverted', 'guard.breached', 'rollout.started'], deliveries: 2 });
  }, 30_000);

  it('a batch whose compare-and-set matches nothing writes nothing: its guard fails it', async () => {
    const version = await startedRollout('late');
    // This server reads the rollout at `version`; another decides between that read and its batch.
    const late: Database = {
      ...databases[1]!,
      writeBatch: async (statements) => {
        await apps[0]!.services.rollouts.applyBreach('late', version, breach);
        return databases[1]!.writeBatch(statements);
      },
    };
    const rollouts = createRolloutService({ database: late, clock, changes: createChangeFeed(), announceStatements: (list) => announceStatements(late.db, list), breachCommit: 'batch' });
    await expect(rollouts.applyBreach('late', version, breach)).rejects.toBeInstanceOf(VersionConflict);
    expect(await written('late')).toEqual({ audit: ['rollout.created', 'rollout.started', 'guard.breached', 'cohort.reverted'], messages: ['cohort.reverted', 'guard.breached', 'rollout.started'], deliveries: 2 });
    expect((await apps[1]!.services.rollouts.get('late')).rollout.version).toBe(version + 1);
  }, 30_000);

  it('writes what the transaction on a file writes: the same audit entries and events', async () => {
    const version = await startedRollout('same');
    await apps[1]!.services.rollouts.applyBreach('same', version, breach);
    const { client } = databases[0]!;
    const entry = (await client.execute({ sql: "SELECT actor, subject, before, after, reason FROM audit_log WHERE rollout_key = 'same' AND action = 'cohort.reverted'", args: [] })).rows[0]!;
    expect(JSON.parse(String(entry.after))).toMatchObject({ state: 'paused', version: version + 1, cohorts: [{ name: 'c1', status: 'reverted' }] });
    expect(JSON.parse(String(entry.before))).toMatchObject({ state: 'running', version });
    const body = JSON.parse(String((await client.execute("SELECT body FROM callback_messages WHERE rollout_key = 'same' AND type = 'cohort.reverted'")).rows[0]!.body));
    expect(body.data).toMatchObject({ rollout: 'same', version: version + 1, state: 'paused', cohort: 'c1', actor: 'controller', reason: breach.reason });
  }, 30_000);
});
