/**
 * What must run inside a write transaction says so in its types: checked by
 * `tsc --noEmit` (the first step of `npm test`), never run. Each
 * `@ts-expect-error` fails the check the day a plain handle is accepted
 * where a transaction is required; the rest fails it the day a transaction
 * stops being accepted where any handle will do.
 */
import { appendAudit, type AuditEntry } from '../../server/audit/store.ts';
import type { CallbackMessage } from '../../server/callbacks/events.ts';
import { enqueueEvent } from '../../server/callbacks/outbox.ts';
import { deferredWrites, queuedBatch, type Database, type Executor, type SqlRunner, type SqlTransaction, type Transaction } from '../../server/db/database.ts';
import { insertKey, setRevoked, type KeyRow } from '../../server/keys/store.ts';
import { markLost, readTally, saveTally, type Tally } from '../../server/lost/store.ts';
import { recordHeardAll } from '../../server/reporters/store.ts';
import { addCounts, claimBatches, seenBatches } from '../../server/reports/store.ts';
import { findRollout, insertCohort, updateRollout } from '../../server/rollouts/store.ts';

declare const entry: AuditEntry;
declare const message: CallbackMessage;
declare const key: KeyRow;
declare const tally: Tally;

export async function plainHandlesAreRefused(database: Database, runner: SqlRunner): Promise<void> {
  const { db } = database;
  // @ts-expect-error the compare-and-set commits with its audit entry, in one transaction
  await updateRollout(db, 1, 1, { state: 'paused' });
  // @ts-expect-error a cohort is written only in the transaction that moves its rollout's version
  await insertCohort(db, 1, { name: 'c', step: 0, fromBp: 0, toBp: 100 }, 0);
  // @ts-expect-error an audit entry commits with the change it records
  await appendAudit(db, entry);
  // @ts-expect-error an outbox event commits with the change it announces
  await enqueueEvent(db, message);
  // @ts-expect-error messages are marked lost in the transaction that tallies them
  await markLost(db, 1, 0, 10);
  // @ts-expect-error the tally is written where the losses are marked
  await saveTally(db, tally);
  // @ts-expect-error a key is created or revoked with its audit entry
  await insertKey(db, key);
  // @ts-expect-error likewise
  await setRevoked(db, 'id', 0, 'me');
  // @ts-expect-error a batch id is claimed only in the transaction that adds its counts
  await claimBatches(runner, [], 0);
  // @ts-expect-error ingest's counts commit with their claim
  await addCounts(runner, []);
  // @ts-expect-error queueing a plain runner's writes does not make them one transaction
  await addCounts(deferredWrites(runner), []);
  // @ts-expect-error nor does an annotation
  const tx: Transaction = db;
  // @ts-expect-error nor for plain statements
  const sql: SqlTransaction = runner;
  void tx;
  void sql;
}

export async function transactionsAreAccepted(database: Database): Promise<void> {
  // Reads take the plain handle…
  await findRollout(database.db, 'k');
  await readTally(database.db, 1);
  await database.write(async (tx, sql) => {
    // …and a transaction, which is still an Executor and a SqlRunner.
    const executor: Executor = tx;
    const runner: SqlRunner = sql;
    await findRollout(executor, 'k');
    await seenBatches(runner, []);
    await updateRollout(tx, 1, 1, { state: 'paused' });
    await appendAudit(tx, entry);
    await enqueueEvent(tx, message);
    await markLost(tx, 1, 0, 10);
    await claimBatches(sql, [], 0);
    // Writes queued over a transaction's runner stay in it.
    const writes = deferredWrites(sql);
    await addCounts(writes, []);
    await writes.flush();
  });
  await database.writeSql((sql) => recordHeardAll(sql, [], 0));
  // A batch is one transaction too.
  const batch = queuedBatch(database, { rowsAsJson: true });
  await addCounts(batch, []);
  await batch.flush();
}
