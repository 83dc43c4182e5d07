import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { COUNTERS, DROP_REASONS, MAX_WIRE_ID, wireId, zeroCounts } from '@rollcall/protocol';

describe('the report wire', () => {
  it('lists the seven counters in wire order, and zeroCounts keeps that order', () => {
    expect(COUNTERS).toEqual(['received', 'processed', 'failed', 'compared', 'mismatched', 'skipped', 'dropped']);
    expect(Object.entries(zeroCounts())).toEqual(COUNTERS.map((c) => [c, 0]));
    expect(DROP_REASONS).toEqual(['refused', 'buffer_full', 'queue_full']);
  });

  it('sends an id of up to 256 characters as it is, a longer one as 190 characters, # and the SHA-256 of its UTF-8', () => {
    expect(MAX_WIRE_ID).toBe(256);
    expect(wireId('short')).toBe('short');
    const fits = 'ü'.repeat(256);
    expect(wireId(fits)).toBe(fits);
    const long = `😀${'ü'.repeat(300)}`;
    expect(wireId(long)).toBe(`${long.slice(0, 190)}#${createHash('sha256').update(Buffer.from(long, 'utf8')).digest('hex')}`);
    expect(wireId(long)).toHaveLength(255);
    expect(wireId(wireId(long))).toBe(wireId(long));
  });
});
