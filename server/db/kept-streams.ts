/**
 * Statements and batches to a libsql server on streams kept open between
 * requests, rather than a stream opened and closed for each.
 *
 * A stream is one SQLite connection inside sqld, and a new one loads the
 * schema before its first statement. Measured here, one `SELECT 1` after
 * another through Rollcall's client cost sqld 2.7 ms of CPU each on a stream
 * of its own and 0.4 ms on a kept one (a bare client: 3.8 ms with Rollcall's
 * schema, 1.5 ms with none). `@libsql/client` opens a stream for every
 * `execute` and `batch`; beside three idle servers (controller passes,
 * change polls) sqld spent 2.4 CPU-s in 10 s that way, 0.6 on kept streams.
 * So `execute` and `batch` here take a kept stream (at most `size`, each
 * running one request at a time, the rest waiting their turn), outside any
 * transaction: each statement sees what is committed when it runs, as on a
 * stream of its own. A batch is one transaction, as the client's own
 * (`BEGIN`, the statements each on the last one's success, `COMMIT`, and
 * `ROLLBACK` when that failed), and results and errors are the client's
 * classes (`ResultSetImpl`, `LibsqlError`, `LibsqlBatchError`), so
 * drizzle and Rollcall's error handling see no difference.
 *
 * A stream idle for `idleMs` is closed rather than reused (sqld expires idle
 * streams), as is one whose request failed (rare, and a stream that may be
 * left inside a transaction is not worth keeping); a request that meets a
 * stream the server no longer knows, so that nothing of it ran, is sent
 * again on a new one. Interactive transactions, migrations and the rest go to
 * the client as they are. What a statement leaves on its connection (an open
 * `BEGIN`, a `PRAGMA`, an `ATTACH`) would now stay for the next request on that
 * stream: nothing sent through `execute` may leave any (transactions go to
 * `transaction`, and the one PRAGMA Rollcall runs is for a local file).
 */
import * as hrana from '@libsql/hrana-client';
import { LibsqlBatchError, LibsqlError, type Client, type InArgs, type InStatement, type ResultSet, type TransactionMode } from '@libsql/core/api';
import { ResultSetImpl } from '@libsql/core/util';

export interface KeptStreamsOptions {
  /** Streams open at most (requests beyond wait for one). */
  size: number;
  /** A stream idle this long is closed, not reused. */
  idleMs: number;
}

type Kept = { stream: hrana.HttpStream; usedAt: number };

const BEGIN: Record<TransactionMode, string> = { write: 'BEGIN IMMEDIATE', read: 'BEGIN TRANSACTION READONLY', deferred: 'BEGIN DEFERRED' };

function stmtOf(stmt: InStatement | [string, InArgs?]): hrana.Stmt {
  const [text, args] = typeof stmt === 'string' ? [stmt, undefined] : Array.isArray(stmt) ? stmt : [stmt.sql, stmt.args];
  const out = new hrana.Stmt(text);
  if (Array.isArray(args)) out.bindIndexes(args);
  else if (args !== undefined) for (const [name, value] of Object.entries(args)) out.bindName(name, value);
  return out;
}

const resultOf = (rows: hrana.RowsResult): ResultSet =>
  new ResultSetImpl(
    rows.columnNames.map((c) => c ?? ''),
    rows.columnDecltypes.map((c) => c ?? ''),
    rows.rows,
    rows.affectedRowCount,
    rows.lastInsertRowid,
  );

/** The code the client gives a hrana error (its own mapping: storage/faults.ts reads these codes). */
function codeOf(error: hrana.ClientError): string {
  if (error instanceof hrana.ResponseError && error.code !== undefined) return error.code;
  if (error instanceof hrana.ProtoError) return 'HRANA_PROTO_ERROR';
  if (error instanceof hrana.ClosedError) return error.cause instanceof hrana.ClientError ? codeOf(error.cause) : 'HRANA_CLOSED_ERROR';
  if (error instanceof hrana.WebSocketError) return 'HRANA_WEBSOCKET_ERROR';
  if (error instanceof hrana.HttpServerError) return 'SERVER_ERROR';
  if (error instanceof hrana.ProtocolVersionError) return 'PROTOCOL_VERSION_ERROR';
  if (error instanceof hrana.InternalError) return 'INTERNAL_ERROR';
  return 'UNKNOWN';
}

/** A hrana error as the client reports it; anything else (a refused connection) as it is. */
const errorOf = (error: unknown): unknown => (error instanceof hrana.ClientError ? new LibsqlError(error.message, codeOf(error), undefined, undefined, error) : error);

/** The server no longer knows the stream, so nothing of the request ran: expired (idle), or a baton from before a restart. */
const staleStream = (error: unknown) =>
  (error instanceof hrana.ResponseError && error.code === 'STREAM_EXPIRED') || (error instanceof hrana.HttpServerError && error.status === 400 && /baton/i.test(error.message));

export function keptStreams(inner: Client, remote: hrana.HttpClient, options: KeptStreamsOptions): Client {
  const idle: Kept[] = [];
  const waiting: ((kept: Kept | null) => void)[] = [];
  let open = 0;
  let closed = false;

  function take(): Promise<Kept | null> {
    if (closed) return Promise.reject(new LibsqlError('The client is closed', 'CLIENT_CLOSED'));
    const now = performance.now();
    for (let kept = idle.pop(); kept !== undefined; kept = idle.pop()) {
      if (now - kept.usedAt <= options.idleMs && !kept.stream.closed) return Promise.resolve(kept);
      kept.stream.close();
      open--;
    }
    if (open < options.size) {
      open++;
      return Promise.resolve(null);
    }
    return new Promise((resolve) => waiting.push(resolve));
  }

  function give(kept: Kept | null, healthy: boolean): void {
    if (kept !== null && healthy) kept.usedAt = performance.now();
    else {
      kept?.stream.close();
      kept = null;
    }
    const next = waiting.shift();
    if (next !== undefined) next(kept);
    else if (kept !== null) idle.push(kept);
    else open--;
  }

  /** Runs `work` on a kept stream (a new one when none is idle), once more on a new one if the kept one had expired. */
  async function onStream<T>(work: (stream: hrana.HttpStream) => Promise<T>): Promise<T> {
    let kept = await take();
    for (let attempt = 0; ; attempt++) {
      const fresh = kept === null;
      try {
        // Opened inside the try: on a closed client it throws, and the slot must still be handed on.
        kept ??= { stream: remote.openStream(), usedAt: 0 };
        const result = await work(kept.stream);
        give(kept, true);
        return result;
      } catch (error) {
        const retry = !fresh && attempt === 0 && staleStream(error);
        kept?.stream.close();
        if (retry) {
          kept = null;
          continue;
        }
        give(null, false);
        throw errorOf(error);
      }
    }
  }

  async function batchOn(stream: hrana.HttpStream, stmts: hrana.Stmt[], mode: TransactionMode): Promise<ResultSet[]> {
    const version = await remote.getVersion();
    const batch = stream.batch(false);
    const begin = batch.step();
    const began = begin.run(BEGIN[mode]);
    let last = begin;
    const results = stmts.map((stmt) => {
      const step = batch.step().condition(hrana.BatchCond.ok(last));
      if (version >= 3) step.condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)));
      last = step;
      return step.query(stmt);
    });
    const commit = batch.step().condition(hrana.BatchCond.ok(last));
    if (version >= 3) commit.condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)));
    const committed = commit.run('COMMIT');
    batch.step().condition(hrana.BatchCond.not(hrana.BatchCond.ok(commit))).run('ROLLBACK').catch(() => undefined);
    await batch.execute();
    await began;
    const out: ResultSet[] = [];
    for (const [i, pending] of results.entries()) {
      let rows: hrana.RowsResult | undefined;
      try {
        rows = await pending;
      } catch (error) {
        const mapped = errorOf(error);
        if (!(mapped instanceof LibsqlError)) throw mapped;
        throw new LibsqlBatchError(mapped.message, i, mapped.code, undefined, undefined, error instanceof Error ? error : undefined);
      }
      if (rows === undefined) throw new LibsqlBatchError('Statement in a batch was not executed, probably because the transaction has been rolled back', i, 'TRANSACTION_CLOSED');
      out.push(resultOf(rows));
    }
    await committed;
    return out;
  }

  const client: Client = {
    execute(stmt: InStatement | string, args?: InArgs): Promise<ResultSet> {
      const statement = stmtOf(typeof stmt === 'string' ? [stmt, args] : stmt);
      return onStream(async (stream) => resultOf(await stream.query(statement)));
    },
    batch(stmts, mode = 'deferred') {
      const statements = stmts.map(stmtOf);
      return onStream((stream) => batchOn(stream, statements, mode));
    },
    migrate: (stmts) => inner.migrate(stmts),
    transaction: (mode?: TransactionMode) => inner.transaction(mode),
    executeMultiple: (sql) => inner.executeMultiple(sql),
    sync: () => inner.sync(),
    reconnect: () => inner.reconnect(),
    close() {
      closed = true;
      for (const kept of idle.splice(0)) kept.stream.close();
      // Requests waiting for a stream go on to open one, which a closed client refuses: each fails, none hangs.
      for (const next of waiting.splice(0)) next(null);
      remote.close();
      inner.close();
    },
    get closed() {
      return inner.closed;
    },
    protocol: inner.protocol,
  };
  return client;
}
