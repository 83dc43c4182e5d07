/**
 * Opening the database: an embedded libsql file by default, or a libsql
 * server (sqld, Turso) by URL. Migrations from `migrations/` are applied on
 * open, by the same code in the server and in tests.
 *
 * Settings, decided once:
 * - journal_mode=WAL (stored in the file): readers never wait for the writer.
 * - synchronous=FULL, libsql's default on every pooled connection (asserted by
 *   a test): a commit is on disk before it is acknowledged, so nothing
 *   acknowledged is lost on power loss.
 * - busy timeout 5 s on every connection (the client's `timeout` option), for
 *   other processes sharing the file.
 * - Writes in this process go one at a time through `write()`. libsql's file
 *   driver is synchronous: a second connection waiting on a lock held by an
 *   open transaction of this same process would block the event loop that
 *   transaction needs to finish.
 * - At most 4 pooled connections: one writer and a few readers is all this
 *   process can use, and each connection keeps its own page cache.
 * - On a libsql server, requests go through http-fetch.ts: uncompressed
 *   responses, and on a plain `http:` URL `node:http` rather than the global
 *   fetch, at about half the CPU per request.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type InStatement, type InValue, type ResultSet } from '@libsql/client';
import Libsql from 'libsql';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { openHttp } from '@libsql/hrana-client';
import { httpFetch, uncompressedFetch } from './http-fetch.ts';
import { keptStreams } from './kept-streams.ts';
import * as schema from './schema.ts';

export type Db = LibSQLDatabase<typeof schema>;
/** Anything a store can read from: the database or an open transaction. */
export type Executor = Db;

/** Present only in the types: set on what `Database` hands out inside a transaction, and on nothing else. */
declare const transactionBrand: unique symbol;
/**
 * drizzle over one open write transaction, as only `Database.write` hands it
 * out. A store function that takes a Transaction must run inside one: its
 * writes commit, or roll back, with the caller's. The plain handle
 * (`database.db`) is refused there; a Transaction is still an Executor.
 */
export type Transaction = Db & { readonly [transactionBrand]: true };
/** Plain SQL with bound arguments, for the statements too hot for a query builder (ingestion). */
export interface SqlRunner {
  execute(statement: { sql: string; args: InValue[] }): Promise<{ rows: Record<string, unknown>[]; rowsAffected: number }>;
  /** Several statements in order, in one round trip where the database is remote. */
  batch?(statements: { sql: string; args: InValue[] }[]): Promise<void>;
  /**
   * The statements go over the network (a libsql server), where every bound
   * value is encoded and decoded on its own: stores then send many rows as
   * one JSON parameter read through `json_each` (see reports/store.ts).
   */
  rowsAsJson?: boolean;
}
/**
 * Plain statements that commit together or not at all: what `Database.write`
 * and `writeSql` hand out, and `queuedBatch` (sent as one batch). Ingestion's
 * claims and counts take one, so a batch id is never claimed without its counts.
 */
export type SqlTransaction = SqlRunner & { readonly [transactionBrand]: true };

/**
 * A runner that only queues writes whose results nobody reads, and `flush()`
 * that sends them in one batch. On a libsql server every statement of an
 * interactive transaction is an HTTP round trip, made while the transaction
 * holds the database's write lock.
 */
export function deferredWrites<R extends SqlRunner>(runner: R): R & { flush(): Promise<void> };
export function deferredWrites(runner: SqlRunner): SqlRunner & { flush(): Promise<void> } {
  let queue: { sql: string; args: InValue[] }[] = [];
  return {
    ...(runner.rowsAsJson === true ? { rowsAsJson: true } : {}),
    async execute(statement) {
      queue.push(statement);
      return { rows: [], rowsAffected: 0 };
    },
    async flush() {
      const statements = queue;
      queue = [];
      if (statements.length === 0) return;
      if (runner.batch !== undefined) await runner.batch(statements);
      else for (const statement of statements) await runner.execute(statement);
    },
  };
}

/**
 * Writes queued and sent by `flush()` as one batch through `writeBatch`, which
 * runs them as one transaction; nothing they return can be read back.
 */
export function queuedBatch(database: Pick<Database, 'writeBatch'>, options: { rowsAsJson?: boolean } = {}): SqlTransaction & { flush(): Promise<void> } {
  const batch = {
    ...(options.rowsAsJson === true ? { rowsAsJson: true } : {}),
    execute: () => Promise.reject(new Error('a batched commit reads nothing')),
    batch: async (statements) => void (await database.writeBatch(statements)),
  } satisfies SqlRunner;
  return deferredWrites(batch as SqlRunner as SqlTransaction);
}

export interface Database {
  readonly db: Db;
  readonly client: Client;
  readonly url: string;
  /**
   * Runs `fn` in a write transaction (BEGIN IMMEDIATE), one at a time within
   * this process; commits when it returns, rolls back when it throws. `sql`
   * runs plain statements in the same transaction.
   */
  write<T>(fn: (tx: Transaction, sql: SqlTransaction) => Promise<T>): Promise<T>;
  /**
   * A write transaction of plain statements only, in the same queue as
   * `write()`. On a file database it runs on a connection of its own that
   * keeps its prepared statements (the client prepares every statement anew,
   * and libsql frees a statement's memory only when the garbage collector gets
   * to it: under ingest load that was most of the server's memory).
   */
  writeSql<T>(fn: (sql: SqlTransaction) => Promise<T>): Promise<T>;
  /**
   * Plain statements sent together and run as one write transaction, in the
   * same queue: one round trip to a libsql server, which holds its write lock
   * only while it runs them (see reports/ingester.ts). Each statement runs
   * only if the one before it succeeded; one that fails rolls back them all
   * (db/batch-guard.ts). Returns each statement's result.
   */
  writeBatch(statements: InStatement[]): Promise<ResultSet[]>;
  close(): void;
}

/** The repository's `migrations/`, from this module's source (server/db/) or its build (dist/server/db/). */
export const MIGRATIONS_FOLDER = [new URL('../../migrations', import.meta.url), new URL('../../../migrations', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(join(path, 'meta', '_journal.json')))!;

/** The filesystem path of a `file:` URL, or null for a remote database. */
export function filePathOf(url: string): string | null {
  if (!url.startsWith('file:')) return null;
  const rest = url.slice('file:'.length).split('?')[0]!;
  return rest.startsWith('//') ? new URL(url).pathname : rest;
}

/** The HTTP address the client itself uses for a remote URL: `libsql:` is `https:` (`http:` with `?tls=0`), and the query is the client's options. */
export function httpUrlOf(url: string): string {
  const [base, query = ''] = url.split('?') as [string, string?];
  return base.replace(/^libsql:/, new URLSearchParams(query).get('tls') === '0' ? 'http:' : 'https:');
}

/** As many streams as the client's own concurrency; sqld expires a stream idle for 10 s, so one idle for 5 s is not reused. */
const KEPT_STREAMS = { size: 4, idleMs: 5_000 };

export async function openDatabase(options: { url: string; authToken?: string | undefined }): Promise<Database> {
  const path = filePathOf(options.url);
  if (path !== null && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const fetch = path === null ? (options.url.startsWith('http:') ? httpFetch() : uncompressedFetch) : undefined;
  const opened = createClient({ url: options.url, authToken: options.authToken, timeout: 5_000, concurrency: 4, ...(fetch === undefined ? {} : { fetch }) });
  // Over HTTP, statements and batches go on kept streams (kept-streams.ts): a stream of its own each cost sqld a connection.
  const client = opened.protocol === 'http' ? keptStreams(opened, openHttp(httpUrlOf(options.url), options.authToken, fetch), KEPT_STREAMS) : opened;
  try {
    if (path !== null) await client.execute('PRAGMA journal_mode=WAL');
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    return createDatabase(db, client, options.url, path === null || path === ':memory:' ? null : path);
  } catch (error) {
    client.close();
    throw error;
  }
}

async function inTransaction<T>(client: Client, fn: (tx: Transaction, sql: SqlTransaction) => Promise<T>): Promise<T> {
  const transaction = await client.transaction('write');
  try {
    // drizzle runs its queries through whatever it is given; here, the open transaction.
    const sql = {
      execute: async (statement) => {
        const result = await transaction.execute(statement);
        return { rows: result.rows as unknown as Record<string, unknown>[], rowsAffected: result.rowsAffected };
      },
      batch: async (statements) => {
        await transaction.batch(statements);
      },
    } as SqlRunner as SqlTransaction;
    const result = await fn(drizzle(transaction as unknown as Client, { schema }) as Db as Transaction, sql);
    await transaction.commit();
    return result;
  } catch (error) {
    await transaction.rollback();
    throw error;
  } finally {
    transaction.close();
  }
}

/** A connection of its own with a cache of prepared statements, for plain-SQL write transactions on a file. */
function statementConnection(path: string) {
  const connection = new Libsql(path);
  connection.exec('PRAGMA busy_timeout = 5000');
  const statements = new Map<string, ReturnType<typeof connection.prepare>>();
  const runner = {
    async execute({ sql, args }) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        if (statements.size >= 256) statements.clear();
        statement = connection.prepare(sql);
        statements.set(sql, statement);
      }
      if (statement.reader) return { rows: statement.all(args) as Record<string, unknown>[], rowsAffected: 0 };
      return { rows: [], rowsAffected: statement.run(args).changes };
    },
  } as SqlRunner as SqlTransaction;
  return {
    async transaction<T>(fn: (sql: SqlTransaction) => Promise<T>): Promise<T> {
      connection.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(runner);
        connection.exec('COMMIT');
        return result;
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      }
    },
    close: () => connection.close(),
  };
}

async function clientSqlTransaction<T>(client: Client, fn: (sql: SqlTransaction) => Promise<T>): Promise<T> {
  return inTransaction(client, (_tx, sql) => fn(sql));
}

function createDatabase(db: Db, client: Client, url: string, filePath: string | null): Database {
  let tail: Promise<unknown> = Promise.resolve();
  const statements = filePath === null ? null : statementConnection(filePath);
  const queued = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work);
    tail = run.catch(() => undefined);
    return run;
  };
  return {
    db,
    client,
    url,
    write<T>(fn: (tx: Transaction, sql: SqlTransaction) => Promise<T>): Promise<T> {
      return queued(() => inTransaction(client, fn));
    },
    writeSql<T>(fn: (sql: SqlTransaction) => Promise<T>): Promise<T> {
      return queued(() => (statements === null ? clientSqlTransaction(client, fn) : statements.transaction(fn)));
    },
    writeBatch(batch: InStatement[]): Promise<ResultSet[]> {
      return queued(async () => (batch.length > 0 ? client.batch(batch, 'write') : []));
    },
    close() {
      statements?.close();
      client.close();
    },
  };
}
