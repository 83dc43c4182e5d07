/**
 * The database as every service sees it: a committed write transaction tells
 * the storage monitor that storage works, so the first commit after an outage
 * (an SDK report, a controller decision, the readiness probe) ends the
 * episode. Failures are counted where they are caught, under the operation
 * that ran them (a route, the controller, the callback worker).
 */
import type { Database } from '../db/database.ts';
import type { StorageMonitor } from './monitor.ts';

export function monitorWrites(database: Database, monitor: StorageMonitor): Database {
  const committed = <T>(result: T): T => {
    monitor.succeeded();
    return result;
  };
  return {
    db: database.db,
    client: database.client,
    url: database.url,
    write: (fn) => database.write(fn).then(committed),
    writeSql: (fn) => database.writeSql(fn).then(committed),
    writeBatch: (statements) => database.writeBatch(statements).then(committed),
    close: () => database.close(),
  };
}
