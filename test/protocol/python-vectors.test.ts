/**
 * The cross-language vectors: the standard-library Python client
 * (clients/python/rollcall.py) hashes and places partners exactly as the
 * protocol package does, for the contract's murmur3 vectors and beyond.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { murmur3, positionOf } from '@rollcall/protocol';
import { python, type Python } from '../helpers/python.ts';

const pythons: Python[] = [];
afterEach(async () => {
  for (const py of pythons.splice(0)) await py.close();
});

describe('the Python client', () => {
  it("computes the contract's murmur3 vectors and positions as @rollcall/protocol does", async () => {
    const py = python();
    pythons.push(py);
    const vectors: [string, number][] = [['', 0], ['', 1], ['hello', 0], ['The quick brown fox jumps over the lazy dog', 0], ['psa-webhooks-v2:partner-42', 0], ['s1:ü-partner', 0], ['😀 naïve 東京', 7], ['abc', 0xffffffff]];
    const positions: [string, string][] = [['psa-webhooks-v2', 'partner-42'], ['s1', 'ü-partner'], ['x', '😀'], ['salt', 'a'.repeat(300)]];
    const answer = await py.ask({ op: 'murmur', vectors, positions });
    expect(answer.hashes.slice(0, 6)).toEqual([0, 0x514e28b7, 0x248bfa47, 0x2e4ff723, 0xdbfefe89, 0xd10137e6]);
    expect(answer.hashes).toEqual(vectors.map(([text, seed]) => murmur3(text, seed)));
    expect(answer.positions.slice(0, 2)).toEqual([916, 9079]);
    expect(answer.positions).toEqual(positions.map(([salt, partner]) => positionOf(salt, partner)));
  });
});
