import { rmSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { filePathOf, httpUrlOf, openDatabase, type Database } from '../../server/db/database.ts';
import { tempDatabaseUrl } from '../helpers/test-app.ts';

const opened: { database: Database; dir: string }[] = [];
async function open() {
  const { url, dir } = tempDatabaseUrl();
  const database = await openDatabase({ url });
  opened.push({ database, dir });
  return { database, url };
}
afterEach(() => {
  for (const { database, dir } of opened.splice(0)) {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the embedded database', () => {
  it('is created, put in WAL mode and migrated on open', async () => {
    const { database } = await open();
    const mode = await database.client.execute('PRAGMA journal_mode');
    expect(mode.rows[0]![0]).toBe('wal');
    const tables = await database.client.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.rows.map((r) => r[0])).toEqual(expect.arrayContaining(['rollouts', 'cohorts', 'pins', 'api_keys', 'audit_log']));
  });

  it('migrates an already migrated file again without harm', async () => {
    const { database, url } = await open();
    await database.client.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'kept')");
    const again = await openDatabase({ url });
    const rows = await again.client.execute('SELECT action FROM audit_log');
    expect(rows.rows.map((r) => r[0])).toEqual(['kept']);
    again.close();
  });

  it('keeps synchronous=FULL and a busy timeout on every pooled connection', async () => {
    const { database } = await open();
    // Hold several transactions open at once so the pool must open several connections.
    const transactions = await Promise.all([0, 1, 2].map(() => database.client.transaction('read')));
    for (const tx of transactions) {
      expect((await tx.execute('PRAGMA synchronous')).rows[0]![0]).toBe(2);
      expect((await tx.execute('PRAGMA busy_timeout')).rows[0]![0]).toBe(5000);
    }
    for (const tx of transactions) tx.close();
  });

  it('runs plain-SQL transactions on a connection of its own with the same settings, in the same queue', async () => {
    const { database } = await open();
    const settings = await database.writeSql(async (sql) => ({
      synchronous: (await sql.execute({ sql: 'PRAGMA synchronous', args: [] })).rows[0],
      busy: (await sql.execute({ sql: 'PRAGMA busy_timeout', args: [] })).rows[0],
      journal: (await sql.execute({ sql: 'PRAGMA journal_mode', args: [] })).rows[0],
    }));
    expect(settings).toEqual({ synchronous: { synchronous: 2 }, busy: { timeout: 5000 }, journal: { journal_mode: 'wal' } });
    const order: string[] = [];
    await Promise.all([
      database.write(async (tx) => {
        order.push('drizzle begin');
        await new Promise((resolve) => setTimeout(resolve, 10));
        await tx.run(sql`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'a')`);
        order.push('drizzle end');
      }),
      database.writeSql(async (plain) => {
        order.push('plain begin');
        await plain.execute({ sql: "INSERT INTO audit_log (at, actor, action) VALUES (2, 'test', 'b')", args: [] });
        order.push('plain end');
      }),
    ]);
    expect(order).toEqual(['drizzle begin', 'drizzle end', 'plain begin', 'plain end']);
    await expect(database.writeSql(async (plain) => {
      await plain.execute({ sql: "INSERT INTO audit_log (at, actor, action) VALUES (3, 'test', 'rolled back')", args: [] });
      throw new Error('boom');
    })).rejects.toThrow('boom');
    const rows = await database.client.execute('SELECT action FROM audit_log ORDER BY id');
    expect(rows.rows.map((r) => r[0])).toEqual(['a', 'b']);
  });

  it('runs writes one at a time, so concurrent writers in one process never deadlock', async () => {
    const { database } = await open();
    const order: string[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        database.write(async (tx) => {
          order.push(`begin ${i}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          await tx.run(sql`INSERT INTO audit_log (at, actor, action) VALUES (${i}, 'test', 'write')`);
          order.push(`end ${i}`);
        }),
      ),
    );
    expect(order).toEqual(['begin 1', 'end 1', 'begin 2', 'end 2', 'begin 3', 'end 3', 'begin 4', 'end 4']);
  });

  it('rolls a failed write back and keeps serving the next one', async () => {
    const { database } = await open();
    await expect(
      database.write(async (tx) => {
        await tx.run(sql`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'lost')`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await database.write((tx) => tx.run(sql`INSERT INTO audit_log (at, actor, action) VALUES (2, 'test', 'kept')`));
    const rows = await database.client.execute('SELECT action FROM audit_log');
    expect(rows.rows.map((r) => r[0])).toEqual(['kept']);
  });

  it('reads file paths out of file: URLs', () => {
    expect(filePathOf('file:./data/rollcall.db')).toBe('./data/rollcall.db');
    expect(filePathOf('file:///tmp/x.db')).toBe('/tmp/x.db');
    expect(filePathOf('file:/tmp/x.db?mode=rwc')).toBe('/tmp/x.db');
    expect(filePathOf('libsql://db.example.com')).toBeNull();
  });

  it('keeps streams at the HTTP address the client itself uses for a remote URL', () => {
    expect(httpUrlOf('libsql://db.example.com')).toBe('https://db.example.com');
    expect(httpUrlOf('libsql://localhost:8080?tls=0')).toBe('http://localhost:8080');
    expect(httpUrlOf('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(httpUrlOf('https://x.turso.io?authToken=t')).toBe('https://x.turso.io');
  });
});
