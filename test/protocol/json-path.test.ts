import { describe, expect, it } from 'vitest';
import { formatPath, parsePath, PathSet } from '@rollcall/protocol';

describe('paths', () => {
  it('parses and formats the supported subset', () => {
    expect(parsePath('$.meta.requestId')).toEqual(['meta', 'requestId']);
    expect(parsePath('$.items[*].at')).toEqual(['items', '*', 'at']);
    expect(parsePath('$.items[3]')).toEqual(['items', 3]);
    expect(parsePath('$["odd key"].x')).toEqual(['odd key', 'x']);
    expect(parsePath('$')).toEqual([]);
    expect(formatPath(['items', 3, 'odd key'])).toBe('$.items[3]["odd key"]');
    expect(() => parsePath('items.at')).toThrow();
    expect(() => parsePath('$.a..b')).toThrow();
  });

  it('matches with * for any one key or index', () => {
    const set = new PathSet(['$.items[*].at', '$.meta.requestId']);
    expect(set.has(['items', 4, 'at'])).toBe(true);
    expect(set.has(['items', 'x', 'at'])).toBe(true);
    expect(set.has(['items', 4])).toBe(false);
    expect(set.has(['meta', 'requestId'])).toBe(true);
    expect(set.has(['meta'])).toBe(false);
  });
});
