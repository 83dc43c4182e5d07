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
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from './schema.ts';

export type Db = LibSQLDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Db['transaction']>[0]>[0];
/** Anything a store can run a query on: the database or an open transaction. */
export type Executor = Db | Transaction;

export interface Database {
  readonly db: Db;
  readonly client: Client;
  readonly url: string;
  /** Runs `fn` in a write transaction, one at a time within this process. */
  write<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): void;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

/** The filesystem path of a `file:` URL, or null for a remote database. */
export function filePathOf(url: string): string | null {
  if (!url.startsWith('file:')) return null;
  const rest = url.slice('file:'.length).split('?')[0]!;
  return rest.startsWith('//') ? new URL(url).pathname : rest;
}

export async function openDatabase(options: { url: string; authToken?: string | undefined }): Promise<Database> {
  const path = filePathOf(options.url);
  if (path !== null && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const client = createClient({ url: options.url, authToken: options.authToken, timeout: 5_000 });
  try {
    if (path !== null) await client.execute('PRAGMA journal_mode=WAL');
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    return createDatabase(db, client, options.url);
  } catch (error) {
    client.close();
    throw error;
  }
}

function createDatabase(db: Db, client: Client, url: string): Database {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    db,
    client,
    url,
    write<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
      const run = tail.then(() => db.transaction(fn));
      tail = run.catch(() => undefined);
      return run;
    },
    close() {
      client.close();
    },
  };
}
