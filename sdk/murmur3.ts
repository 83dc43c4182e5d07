/**
 * MurmurHash3 x86 32-bit over the UTF-8 bytes of a JavaScript string.
 *
 * The bytes are produced on the fly from UTF-16 code units, so hashing never
 * allocates. A lone surrogate encodes as U+FFFD, exactly as TextEncoder does.
 * `prefixHasher` hashes a fixed prefix once and resumes from that state for
 * every suffix: `path()` hashes `salt + ":" + partnerId` millions of times
 * with the same salt.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

// Streaming state. Module-level so that the hot loop allocates nothing; the
// functions below are synchronous, so no two hashes ever interleave.
let h = 0; // running hash
let k = 0; // the partial 4-byte block
let n = 0; // bytes in k
let length = 0; // bytes fed so far

function pushByte(byte: number): void {
  k |= byte << (n << 3);
  if (++n === 4) {
    let block = Math.imul(k, C1);
    block = (block << 15) | (block >>> 17);
    h ^= Math.imul(block, C2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    k = 0;
    n = 0;
  }
  length++;
}

function pushCodePoint(cp: number): void {
  if (cp < 0x80) {
    pushByte(cp);
  } else if (cp < 0x800) {
    pushByte(0xc0 | (cp >> 6));
    pushByte(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    pushByte(0xe0 | (cp >> 12));
    pushByte(0x80 | ((cp >> 6) & 0x3f));
    pushByte(0x80 | (cp & 0x3f));
  } else {
    pushByte(0xf0 | (cp >> 18));
    pushByte(0x80 | ((cp >> 12) & 0x3f));
    pushByte(0x80 | ((cp >> 6) & 0x3f));
    pushByte(0x80 | (cp & 0x3f));
  }
}

function feed(text: string): void {
  const end = text.length;
  let i = 0;
  while (i < end) {
    const c = text.charCodeAt(i++);
    if (c < 0x80) {
      pushByte(c);
    } else if (c >= 0xd800 && c <= 0xdbff && i < end) {
      const low = text.charCodeAt(i);
      if (low >= 0xdc00 && low <= 0xdfff) {
        i++;
        pushCodePoint(((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000);
      } else {
        pushCodePoint(0xfffd);
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      pushCodePoint(0xfffd);
    } else {
      pushCodePoint(c);
    }
  }
}

function finish(): number {
  let hash = h;
  if (n > 0) {
    let block = Math.imul(k, C1);
    block = (block << 15) | (block >>> 17);
    hash ^= Math.imul(block, C2);
  }
  hash ^= length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** murmur3_x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string, seed = 0): number {
  h = seed | 0;
  k = 0;
  n = 0;
  length = 0;
  feed(text);
  return finish();
}

/** Returns `suffix => murmur3(prefix + suffix, seed)` with the prefix hashed once. */
export function prefixHasher(prefix: string, seed = 0): (suffix: string) => number {
  h = seed | 0;
  k = 0;
  n = 0;
  length = 0;
  feed(prefix);
  const h0 = h;
  const k0 = k;
  const n0 = n;
  const length0 = length;
  return function hashWithPrefix(suffix: string): number {
    h = h0;
    k = k0;
    n = n0;
    length = length0;
    feed(suffix);
    return finish();
  };
}
