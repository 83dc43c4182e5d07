/**
 * Which failures are the storage's, not the request's: a full disk, a lock
 * held past the busy timeout, an I/O error, a libsql server that cannot be
 * reached or answers with an error. These become 503 `storage_unavailable`
 * with Retry-After (a client should retry the same request) instead of the
 * generic 500 (a bug). A constraint violation or a bad statement is not one.
 */
export const STORAGE_FAULTS = ['disk_full', 'locked', 'io_error', 'unreachable', 'server_error'] as const;
export type StorageFault = (typeof STORAGE_FAULTS)[number];

export interface ClassifiedFault {
  fault: StorageFault;
  /** The driver's own words, e.g. "SQLITE_FULL: database or disk is full". */
  message: string;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED']);

function byCode(code: string): StorageFault | null {
  if (code === 'SQLITE_FULL') return 'disk_full';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked';
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PROTOCOL') return 'io_error';
  if (code === 'SERVER_ERROR' || code === 'HRANA_PROTO_ERROR') return 'server_error';
  if (code === 'HRANA_CLOSED_ERROR' || code === 'HRANA_WEBSOCKET_ERROR' || NETWORK_CODES.has(code)) return 'unreachable';
  return null;
}

/** The storage fault behind `error` (looked for along its `cause` chain), or null. */
export function storageFault(error: unknown): ClassifiedFault | null {
  let current: unknown = error;
  // undici's `TypeError: fetch failed` is the libsql server out of reach, whatever its cause says.
  let fallback: ClassifiedFault | null = null;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (fallback === null && current instanceof TypeError && current.message === 'fetch failed') fallback = { fault: 'unreachable', message: current.message };
    const code = (current as { code?: unknown }).code;
    const fault = typeof code === 'string' ? byCode(code) : null;
    if (fault !== null) return { fault, message: current.message };
    // A connection error may be an AggregateError (one per address tried).
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner)) {
      for (const each of inner) {
        const found = storageFault(each);
        if (found !== null) return found;
      }
    }
    current = current.cause;
  }
  return fallback;
}
