/** The one answer to a request that storage could not serve: 503 `storage_unavailable`, retry later. */
import type { StorageMonitor, StorageOutage } from './monitor.ts';

export const RETRY_AFTER_SECONDS = 5;

export function unavailableBody(outage: StorageOutage | null, error: unknown) {
  const reason = outage !== null ? `${outage.fault}: ${outage.message}` : error instanceof Error ? error.message : String(error);
  return {
    error: {
      code: 'storage_unavailable',
      message: `storage is unavailable (${reason}); nothing was changed, retry in ${RETRY_AFTER_SECONDS} s`,
      details: outage === null ? undefined : { fault: outage.fault, since: new Date(outage.since).toISOString(), errors: outage.errors },
    },
  };
}

/** Whether `error` was storage's (recorded under `operation` when it was), and then the 503 to answer: what the API's one error renderer asks. */
export function storageFailure(monitor: StorageMonitor) {
  return function unavailable(operation: string, error: unknown) {
    if (monitor.failed(operation, error) === null) return null;
    return { body: unavailableBody(monitor.outage, error), retryAfterSeconds: RETRY_AFTER_SECONDS };
  };
}
