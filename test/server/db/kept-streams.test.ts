/**
 * Statements and batches on kept streams (server/db/kept-streams.ts), against
 * a real libsql server: the same results and errors as the client's own
 * stream per request, streams reused and bounded, and a stream the server
 * no longer knows replaced without the request failing.
 */
import { createClient, LibsqlBatchError, LibsqlError, type Client } from '@libsql/client';
import { openHttp } from '@libsql/hrana-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../server/db/database.ts';
import { keptStreams } from '../../../server/db/kept-streams.ts';
import { storageFault } from '../../../server/storage/faults.ts';
import { startSqld, type Sqld } from '../../helpers/sqld.ts';

let sqld: Sqld;
let plain: Client;
const opened: Client[] = [];

/** A client on kept streams, closed after the file. */
function kept(options: { size: number; idleMs: number }): Client {
  const client = keptStreams(createClient({ url: sqld.url }), openHttp(sqld.url), options);
  opened.push(client);
  return client;
}

/** Marks the connection a request runs on: a row inserted there, whose id only that connection's last_insert_rowid() gives. */
async function mark(client: Client): Promise<number> {
  return Number((await client.execute('INSERT INTO marks DEFAULT VALUES')).lastInsertRowid);
}

/** The mark of the connection this request runs on (0 on a connection that never inserted). */
async function markOf(client: Client): Promise<number> {
  return Number((await client.execute('SELECT last_insert_rowid() AS id')).rows[0]!.id);
}

beforeAll(async () => {
  sqld = await startSqld();
  plain = createClient({ url: sqld.url });
  await plain.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, at REAL)');
  await plain.execute('CREATE TABLE marks (id INTEGER PRIMARY KEY)');
}, 60_000);

afterAll(async () => {
  for (const client of opened) client.close();
  plain?.close();
  await sqld?.stop();
});

describe('kept streams', () => {
  it('returns what the client returns, for statements and batches', async () => {
    const client = kept({ size: 2, idleMs: 5_000 });
    const written = await client.execute({ sql: 'INSERT INTO t (name, at) VALUES (?, ?)', args: ['a', 1.5] });
    expect(written.rowsAffected).toBe(1);
    expect(written.lastInsertRowid).toBe(BigInt((await plain.execute("SELECT id FROM t WHERE name = 'a'")).rows[0]!.id as number));
    const [mine, theirs] = [await client.execute('SELECT id, name, at FROM t'), await plain.execute('SELECT id, name, at FROM t')];
    expect(mine.columns).toEqual(theirs.columns);
    expect(mine.columnTypes).toEqual(theirs.columnTypes);
    expect(mine.rows.map((r) => ({ ...r }))).toEqual(theirs.rows.map((r) => ({ ...r })));
    expect(mine.rows[0]![1]).toBe('a');
    const results = await client.batch([{ sql: 'INSERT INTO t (name, at) VALUES (?, ?)', args: ['b', 2] }, 'SELECT count(*) AS n FROM t'], 'write');
    expect(results.map((r) => r.rowsAffected)).toEqual([1, 0]);
    expect(Number(results[1]!.rows[0]!.n)).toBe(2);
    expect((await client.execute({ sql: 'SELECT name FROM t WHERE at = :at', args: { at: 2 } })).rows[0]!.name).toBe('b');
  });

  it('rolls a failed batch back whole and throws the client’s batch error, naming the statement', async () => {
    const client = kept({ size: 2, idleMs: 5_000 });
    const before = Number((await plain.execute('SELECT count(*) AS n FROM t')).rows[0]!.n);
    const failed = await client.batch([{ sql: 'INSERT INTO t (name) VALUES (?)', args: ['c'] }, { sql: 'INSERT INTO t (name) VALUES (?)', args: ['a'] }], 'write').catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(LibsqlBatchError);
    expect((failed as LibsqlBatchError).statementIndex).toBe(1);
    expect((failed as LibsqlBatchError).code).toMatch(/^SQLITE_CONSTRAINT/);
    // What the ingester looks for when another server claimed a batch id first.
    expect(String((failed as { cause?: unknown }).cause)).toMatch(/UNIQUE constraint failed: t\.name/);
    expect(storageFault(failed)).toBeNull();
    expect(Number((await plain.execute('SELECT count(*) AS n FROM t')).rows[0]!.n)).toBe(before);
    // The next request works (on a new stream: a failed one is not kept).
    expect(Number((await client.execute('SELECT count(*) AS n FROM t')).rows[0]!.n)).toBe(before);
    const bad = await client.execute('SELECT nope FROM t').catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(LibsqlError);
    const theirs = await plain.execute('SELECT nope FROM t').catch((error: unknown) => error);
    expect((bad as LibsqlError).code).toBe((theirs as LibsqlError).code);
  });

  it('keeps a stream between requests, and not one idle past idleMs', async () => {
    const client = kept({ size: 1, idleMs: 5_000 });
    const marked = await mark(client);
    expect(await markOf(client)).toBe(marked);
    const eager = kept({ size: 1, idleMs: 0 });
    await mark(eager);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await markOf(eager)).toBe(0);
    // Each stream sees what others committed, as a stream of its own would.
    await plain.execute({ sql: 'INSERT INTO t (name) VALUES (?)', args: ['seen'] });
    expect((await client.execute("SELECT count(*) AS n FROM t WHERE name = 'seen'")).rows[0]!.n).toBe(1);
  });

  it('runs many requests at once on at most `size` streams, each answered with its own result', async () => {
    const client = kept({ size: 2, idleMs: 5_000 });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? client.batch([{ sql: 'SELECT ? AS v', args: [i] }], 'read').then((r) => r[0]!) : client.execute({ sql: 'SELECT ? AS v', args: [i] }))));
    expect(answers.map((r) => Number(r.rows[0]!.v))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // Two connections at most: with both marked, every later request runs on a marked one.
    const marks = await Promise.all([mark(client), mark(client)]);
    const seen = await Promise.all(Array.from({ length: 6 }, () => markOf(client)));
    for (const id of seen) expect(marks).toContain(id);
  });

  it('is what a database opened on a libsql server runs on, for http: and libsql: URLs alike', async () => {
    for (const url of [sqld.url, `${sqld.url.replace(/^http:/, 'libsql:')}?tls=0`]) {
      const database = await openDatabase({ url });
      try {
        const marked = await mark(database.client);
        expect(await markOf(database.client)).toBe(marked);
      } finally {
        database.close();
      }
    }
  }, 30_000);

  it('fails what waits for a stream and what comes after close(), rather than leaving it waiting', async () => {
    const client = keptStreams(createClient({ url: sqld.url }), openHttp(sqld.url), { size: 1, idleMs: 5_000 });
    const asked = Array.from({ length: 5 }, (_, i) =>
      client.execute({ sql: 'SELECT ?', args: [i] }).then(
        () => 'answered',
        (error: unknown) => (error instanceof LibsqlError ? 'failed' : 'other'),
      ),
    );
    client.close();
    expect(await Promise.all(asked)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    await expect(client.execute('SELECT 1')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('sends a request again on a new stream when the server has forgotten the kept one (restarted)', async () => {
    const client = kept({ size: 1, idleMs: 60_000 });
    const marked = await mark(client);
    await sqld.kill();
    await sqld.restart();
    const { rows } = await client.execute("SELECT count(*) AS n FROM t WHERE name = 'a'");
    expect(Number(rows[0]!.n)).toBe(1);
    expect(await markOf(client)).not.toBe(marked);
  }, 30_000);
});
