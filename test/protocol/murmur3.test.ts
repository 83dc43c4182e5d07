import { describe, expect, it } from 'vitest';
import { murmur3, prefixHasher } from '@rollcall/protocol';

/** A plain reference: murmur3_x86_32 over TextEncoder's bytes, written straight from the algorithm. */
function reference(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  let h = seed >>> 0;
  const blocks = bytes.length - (bytes.length % 4);
  const mixK = (k: number) => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h ^= mixK(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = bytes.length & 3;
  if (rest > 0) {
    let tail = 0;
    for (let i = rest - 1; i >= 0; i--) tail = (tail << 8) | bytes[blocks + i]!;
    h ^= mixK(tail);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

describe('murmur3_x86_32', () => {
  it('matches the contract test vectors', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3('psa-webhooks-v2:partner-42')).toBe(0xdbfefe89);
    expect(murmur3('s1:ü-partner')).toBe(0xd10137e6);
  });

  it('hashes the UTF-8 bytes of any string, as TextEncoder encodes them', () => {
    const samples = [
      'a', 'ab', 'abc', 'abcd', 'abcde', 'ü', 'éé', '日本語の取引先', '🚀partner', 'x🚀', '\u0000', '\u007f\u0080\u07ff\u0800\uffff',
      '\ud83d', 'a\udc00b', '\ud83d\ud83d', 'lone high at end \ud800', 'tail\ud800x',
    ];
    for (const text of samples) {
      expect(murmur3(text), JSON.stringify(text)).toBe(reference(text));
      expect(murmur3(text, 42), JSON.stringify(text)).toBe(reference(text, 42));
    }
  });

  it('agrees with the reference on random strings of every length', () => {
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const length = next() % 40;
      let text = '';
      for (let j = 0; j < length; j++) {
        const pick = next() % 10;
        text += String.fromCharCode(pick < 6 ? 32 + (next() % 95) : pick < 8 ? 0x80 + (next() % 0x780) : pick < 9 ? 0x800 + (next() % 0xf000) : 0xd800 + (next() % 0x800));
      }
      expect(murmur3(text)).toBe(reference(text));
    }
  });

  it('resumes from a hashed prefix exactly as if hashing the whole string', () => {
    for (const prefix of ['', 's', 'sa', 'sal', 'salt', 'salt:', 'psa-webhooks-v2:', 's1:', 'ü:']) {
      const hash = prefixHasher(prefix);
      for (const suffix of ['', 'p', 'partner-42', 'ü-partner', '🚀', 'a\ud800']) {
        expect(hash(suffix), `${prefix}|${suffix}`).toBe(murmur3(prefix + suffix));
      }
    }
  });
});
