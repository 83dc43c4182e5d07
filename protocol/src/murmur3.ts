/**
 * MurmurHash3 x86 32-bit over the UTF-8 bytes of a JavaScript string.
 *
 * The bytes are produced on the fly from UTF-16 code units, four ASCII
 * characters at a time where it can, so hashing never allocates. A lone
 * surrogate encodes as U+FFFD, exactly as TextEncoder does. `prefixHasher`
 * hashes a fixed prefix once and resumes from that state for every suffix:
 * `path()` hashes `salt + ":" + partnerId` millions of times with one salt.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The state `absorb` leaves: running hash, partial block, bytes in it, total length. */
const state = new Int32Array(4);

/**
 * Feeds the UTF-8 bytes of `text` into the state (h, k, n, length) and
 * returns the finished hash; the unfinished state is left in `state` for
 * `prefixHasher`.
 */
function absorb(text: string, h: number, k: number, n: number, length: number, place: boolean): number {
  const end = text.length;
  let i = 0;
  while (i < end) {
    if (n === 0) {
      // Whole blocks of four ASCII characters: the common case for ids.
      while (i + 4 <= end) {
        const c0 = text.charCodeAt(i);
        const c1 = text.charCodeAt(i + 1);
        const c2 = text.charCodeAt(i + 2);
        const c3 = text.charCodeAt(i + 3);
        if ((c0 | c1 | c2 | c3) > 0x7f) break;
        let block = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
        block = Math.imul(block, C1);
        block = (block << 15) | (block >>> 17);
        h ^= Math.imul(block, C2);
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        i += 4;
        length += 4;
      }
      if (i >= end) break;
    }
    // One character as 1 to 4 bytes, packed little-endian in `bytes`.
    let c = text.charCodeAt(i++);
    let bytes: number;
    let count: number;
    if (c < 0x80) {
      bytes = c;
      count = 1;
    } else if (c < 0x800) {
      bytes = (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const low = i < end ? text.charCodeAt(i) : 0;
        if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
          i++;
          const cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          bytes = (0xf0 | (cp >> 18)) | ((0x80 | ((cp >> 12) & 0x3f)) << 8) | ((0x80 | ((cp >> 6) & 0x3f)) << 16) | ((0x80 | (cp & 0x3f)) << 24);
          count = 4;
        } else {
          c = 0xfffd; // a lone surrogate
          bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
          count = 3;
        }
      } else {
        bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      }
    }
    for (let j = 0; j < count; j++) {
      k |= ((bytes >>> (j << 3)) & 0xff) << (n << 3);
      length++;
      if (++n === 4) {
        let block = Math.imul(k, C1);
        block = (block << 15) | (block >>> 17);
        h ^= Math.imul(block, C2);
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        k = 0;
        n = 0;
      }
    }
  }
  state[0] = h;
  state[1] = k;
  state[2] = n;
  state[3] = length;
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
  if (!place) return hash >>> 0;
  // A placement: the position (0..9999, 14 bits) and 16 bits of the hash for pin lookups,
  // packed below 2^30 so that V8 returns a small integer and never allocates a number.
  const u = hash >>> 0;
  const position = (u % 100) * 100 + (Math.floor(u / 100) % 100);
  return position | ((u & 0xffff) << 14);
}

/** murmur3_x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string, seed = 0): number {
  return absorb(text, seed | 0, 0, 0, 0, false);
}

/** Returns `suffix => murmur3(prefix + suffix, seed)` with the prefix hashed once. */
export function prefixHasher(prefix: string, seed = 0): (suffix: string) => number {
  return resume(prefix, seed, false);
}

/**
 * Like `prefixHasher`, but returns a placement: the contract's position
 * (`placement & 0x3fff`, 0..9999) and 16 bits of the hash (`placement >>> 14`).
 */
export function prefixPlacer(prefix: string, seed = 0): (suffix: string) => number {
  return resume(prefix, seed, true);
}

function resume(prefix: string, seed: number, place: boolean): (suffix: string) => number {
  absorb(prefix, seed | 0, 0, 0, 0, false);
  const h0 = state[0]!;
  const k0 = state[1]!;
  const n0 = state[2]!;
  const length0 = state[3]!;
  return function hashWithPrefix(suffix: string): number {
    return absorb(suffix, h0, k0, n0, length0, place);
  };
}
