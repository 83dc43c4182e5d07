/**
 * SHA-256 for `wireId`, with `node:crypto` loaded on first use: an SDK that
 * never meets an id past MAX_WIRE_ID never pays for loading it (see the SDK's
 * builtins.ts, which loads its built-ins the same way and says why).
 */
import { createRequire } from 'node:module';

type Load = (id: string) => unknown;
// Node 20.16+ has a loader for built-ins that needs no base path.
const load: Load = (process as { getBuiltinModule?: Load }).getBuiltinModule ?? createRequire(`${process.cwd()}/`);

export function sha256Hex(text: string): string {
  return (load('node:crypto') as typeof import('node:crypto')).createHash('sha256').update(text).digest('hex');
}
