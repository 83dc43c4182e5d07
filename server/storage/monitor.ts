/**
 * The storage's state as this server sees it, episode by episode. The first
 * storage fault of an episode is logged once, with what failed and why; later
 * ones only count (`rollcall_storage_errors_total{operation}`); the first
 * successful write after them ends the episode and logs how long it lasted.
 * Readiness, the API's 503s and health read the same state.
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
}

export interface StorageMonitor {
  /** Records `error` when it is a storage fault and returns the fault; null (and nothing recorded) otherwise. */
  failed(operation: string, error: unknown): StorageFault | null;
  /** `failed` bound to one operation, for a background loop's error hook: true when it was a storage fault. */
  handles(operation: string): (error: unknown) => boolean;
  /** A write committed: the storage works again. */
  succeeded(): void;
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
      if (outage === null) {
        outage = { fault: found.fault, message: found.message, since: deps.clock.now(), errors: 1, operation };
        deps.logger.error(`storage unavailable (${found.fault}): ${found.message}`, { operation });
      } else {
        outage = { ...outage, fault: found.fault, message: found.message, errors: outage.errors + 1, operation };
      }
      return found.fault;
    },
    succeeded() {
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
