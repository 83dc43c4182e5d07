/** The one answer to a request that storage could not serve: 503 `storage_unavailable`, retry later. */
import type { StorageOutage } from './monitor.ts';

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
