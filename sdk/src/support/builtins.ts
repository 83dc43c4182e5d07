/**
 * Node's built-ins the SDK needs only now and then, loaded on first use:
 * `node:crypto` and `node:zlib` are most of what importing the SDK would cost
 * otherwise (about 10 of 15 ms of CPU here), and a service pays that at start
 * whether or not it ever hashes a long id or sends a report. `node:module`
 * is loaded by Node itself before any user code, so requiring through it is
 * free, and it works the same from the ESM and the CommonJS build.
 */
import { createRequire } from 'node:module';

type Load = (id: string) => unknown;
// Node 20.16+ has a loader for built-ins that needs no base path.
const load: Load = (process as { getBuiltinModule?: Load }).getBuiltinModule ?? createRequire(`${process.cwd()}/`);

export const crypto = (): typeof import('node:crypto') => load('node:crypto') as typeof import('node:crypto');

/** A random v4 UUID, from Web Crypto where the global has it (no module to load). */
export function randomUUID(): string {
  const web = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return web?.randomUUID !== undefined ? web.randomUUID() : crypto().randomUUID();
}

export function gzip(text: string): Promise<Buffer> {
  const zlib = load('node:zlib') as typeof import('node:zlib');
  return new Promise((resolve, reject) => zlib.gzip(text, (error, result) => (error === null ? resolve(result) : reject(error))));
}
