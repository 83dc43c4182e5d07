/**
 * Where the client's errors go: to its `error` listeners when it has any,
 * else to the logger as a warning (not the same one twice in a row). The SDK
 * never throws them into its host; a fatal one (a refused key) stops it.
 */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

interface ErrorListeners {
  listenerCount(name: 'error'): number;
  emit(name: 'error', error: Error): void;
}

export function createErrorReporter(emitter: ErrorListeners, logger: { warn(message: string): void }, onFatal: (error: Error) => void) {
  let lastErrorMessage = '';
  return function reportError(error: unknown, fatal: boolean): void {
    const e = toError(error);
    if (fatal) onFatal(e);
    if (emitter.listenerCount('error') > 0) emitter.emit('error', e);
    else if (e.message !== lastErrorMessage) logger.warn(e.message);
    lastErrorMessage = e.message;
  };
}
