/**
 * API keys: `rc_<kind>_<32 random base62><6 base62 checksum>`.
 *
 * The checksum (the first bytes of SHA-256 over the rest) lets a scanner or
 * the server tell a mistyped key from a real one without a lookup. Only the
 * SHA-256 of the whole key is stored, with a short display prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KeyKind } from '../principal.ts';

export { KEY_KINDS, type KeyKind } from '../principal.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const PREFIX_RANDOM_CHARS = 6;

/** `length` base62 characters from rejection-sampled random bytes (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function checksum(body: string): string {
  let value = createHash('sha256').update(body).digest().readUInt32BE(0);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

export function generateKey(kind: KeyKind): string {
  const body = `rc_${kind}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

const KEY_PATTERN = new RegExp(`^rc_(admin|sdk|read)_[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

/** True for a key of Rollcall's own format whose checksum matches. */
export function isWellFormedKey(key: string): boolean {
  if (!KEY_PATTERN.test(key)) return false;
  const body = key.slice(0, key.length - CHECKSUM_LENGTH);
  return checksum(body) === key.slice(key.length - CHECKSUM_LENGTH);
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What is shown of a key after it is created: enough to recognise it, never enough to use it. */
export function displayPrefix(key: string): string {
  const match = /^rc_(admin|sdk|read)_/.exec(key);
  const head = match ? match[0].length + PREFIX_RANDOM_CHARS : PREFIX_RANDOM_CHARS;
  return `${key.slice(0, head)}…`;
}

export function newKeyId(): string {
  return `key_${randomBase62(12)}`;
}
