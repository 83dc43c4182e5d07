import { describe, expect, it } from 'vitest';
import { LibsqlError } from '@libsql/client';
import { storageFault } from '../../../server/storage/faults.ts';

describe('storageFault', () => {
  it('names the fault behind libsql and SQLite errors, along the cause chain', () => {
    expect(storageFault(new LibsqlError('SQLITE_FULL: database or disk is full', 'SQLITE_FULL'))?.fault).toBe('disk_full');
    expect(storageFault(new LibsqlError('SQLITE_BUSY: database is locked', 'SQLITE_BUSY'))?.fault).toBe('locked');
    expect(storageFault(new LibsqlError('disk I/O error', 'SQLITE_IOERR_WRITE'))?.fault).toBe('io_error');
    expect(storageFault(new LibsqlError('Server returned HTTP status 502', 'SERVER_ERROR'))?.fault).toBe('server_error');
    // drizzle wraps the driver's error in its own
    const wrapped = new Error('Failed query: insert into …', { cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) });
    expect(storageFault(wrapped)).toEqual({ fault: 'disk_full', message: 'database or disk is full' });
  });

  it('knows a libsql server out of reach, however undici words it', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(storageFault(new TypeError('fetch failed', { cause: refused }))?.fault).toBe('unreachable');
    expect(storageFault(new TypeError('fetch failed', { cause: new AggregateError([refused]) }))?.fault).toBe('unreachable');
    expect(storageFault(new TypeError('fetch failed'))?.fault).toBe('unreachable');
  });

  it('leaves bugs and bad statements alone (they stay 500s, and are logged as such)', () => {
    expect(storageFault(new LibsqlError('UNIQUE constraint failed: rollouts.key', 'SQLITE_CONSTRAINT_UNIQUE'))).toBeNull();
    expect(storageFault(new LibsqlError('no such table: nothing', 'SQLITE_ERROR'))).toBeNull();
    expect(storageFault(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
    expect(storageFault('a string')).toBeNull();
  });
});
