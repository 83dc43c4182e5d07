/**
 * The storage's state as this server sees it, episode by episode. The first
 * storage fault of an episode is logged once, with what failed and why; later
 * ones only count (`rollcall_storage_errors_total{operation}`); the first
 * successful write after them ends the episode and logs how long it lasted.
 * Readiness, the API's 503s and health read the same state.
 *
 * An episode in which the work this server exists for failed (a report batch,
 * a controller decision) is a work episode: a write that still fits (a key's
 * last use, a small report, the readiness probe's row) does not end it; only
 * readiness committing a large report batch's worth of bytes does (see
 * routes.ts), so a load balancer polling `/readyz` ends it once storage takes
 * the work again.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { storageFault, type StorageFault } from './faults.ts';

export interface StorageOutage {
  fault: StorageFault;
  message: string;
  /** When the episode began (ms since the epoch, the server's clock). */
  since: number;
  /** Storage errors seen in this episode. */
  errors: number;
  /** The operation that failed last: a route (`POST /v1/sdk/reports`), `controller`, `callbacks`, `retention`… */
  operation: string;
  /** Work failed in this episode (reports, decisions): only work committing again ends it. */
  work: boolean;
}

/** The operations whose failure makes a work episode. */
export const WORK_OPERATIONS = new Set(['POST /v1/sdk/reports', 'controller']);

export interface StorageMonitor {
  /** Records `error` when it is a storage fault and returns the fault; null (and nothing recorded) otherwise. */
  failed(operation: string, error: unknown): StorageFault | null;
  /** `failed` bound to one operation, for a background loop's error hook: true when it was a storage fault. */
  handles(operation: string): (error: unknown) => boolean;
  /** A write committed: the storage works again, unless work failed in this episode. */
  succeeded(): void;
  /** A large report batch's worth of bytes committed: the storage works again. */
  workSucceeded(): void;
  /** The current episode, or null while storage works. */
  readonly outage: StorageOutage | null;
}

export function createStorageMonitor(deps: { clock: Clock; logger: Logger; onError?: (operation: string, fault: StorageFault) => void }): StorageMonitor {
  let outage: StorageOutage | null = null;
  const monitor: StorageMonitor = {
    handles: (operation) => (error) => monitor.failed(operation, error) !== null,
    failed(operation, error) {
      const found = storageFault(error);
      if (found === null) return null;
      deps.onError?.(operation, found.fault);
      const work = WORK_OPERATIONS.has(operation);
      if (outage === null) {
        outage = { fault: found.fault, message: found.message, since: deps.clock.now(), errors: 1, operation, work };
        deps.logger.error(`storage unavailable (${found.fault}): ${found.message}`, { operation });
      } else {
        outage = { ...outage, fault: found.fault, message: found.message, errors: outage.errors + 1, operation, work: outage.work || work };
      }
      return found.fault;
    },
    succeeded() {
      if (outage?.work === false) monitor.workSucceeded();
    },
    workSucceeded() {
      if (outage === null) return;
      const ended = outage;
      outage = null;
      deps.logger.info(`storage available again after ${((deps.clock.now() - ended.since) / 1000).toFixed(1)} s`, { fault: ended.fault, errors: ended.errors });
    },
    get outage() {
      return outage;
    },
  };
  return monitor;
}
