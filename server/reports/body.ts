/**
 * What a report costs before it is parsed: its body inflated (gzip, bounded)
 * and read as JSON, and a bound on how many are in hand at once.
 */
import { gunzipSync } from 'node:zlib';
import { AppError, badRequest } from '../errors.ts';

/** A compressed body is at most 1 MiB (the body limit); it may not inflate past this. */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

export async function readReport(raw: Uint8Array, encoding: string): Promise<unknown> {
  let bytes: Uint8Array = raw;
  if (encoding === 'gzip') {
    try {
      // Inflated on the main thread: a compressed report is at most 1 MiB, and zlib on the
      // thread pool leaves memory in per-thread malloc arenas that the server never gets back.
      bytes = gunzipSync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new AppError(413, 'payload_too_large', `the report inflates past ${MAX_INFLATED_BYTES} bytes`);
      }
      throw badRequest('invalid_gzip', 'the body is not valid gzip');
    }
  } else if (encoding !== 'identity') {
    throw new AppError(415, 'unsupported_media_type', 'send reports as JSON, plain or with Content-Encoding: gzip');
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw badRequest('invalid_json', `the report is not valid JSON: ${(error as Error).message}`);
  }
}

/** At most `limit` holders at once; the rest wait in order. */
export function semaphore(limit: number) {
  let held = 0;
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<() => void> {
      if (held >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else held++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next !== undefined) next();
        else held--;
      };
    },
  };
}
