import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PATHS, MORE_PATHS, PathSet } from '@rollcall/protocol';
import { createComparator, toPlain } from '../../sdk/src/shadow/compare.ts';

describe('comparison', () => {
  it('finds equal outputs equal and names every differing path', () => {
    const compare = createComparator();
    expect(compare.compare({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }).equal).toBe(true);
    const result = compare.compare({ type: 'invoice.paid', items: [{ id: 1, amount: 10 }] }, { type: 'invoice.created', items: [{ id: 1, amount: 12 }], extra: true });
    expect(result.equal).toBe(false);
    expect(result.diffs).toEqual([
      { path: '$.extra', new: true },
      { path: '$.items[0].amount', old: 10, new: 12 },
      { path: '$.type', old: 'invoice.paid', new: 'invoice.created' },
    ]);
  });

  it('ignores the paths it is told to', () => {
    const compare = createComparator({ ignore: ['$.meta.requestId', '$.items[*].at'] });
    const a = { meta: { requestId: 'x1', v: 1 }, items: [{ id: 1, at: '10:00' }, { id: 2, at: '10:01' }] };
    const b = { meta: { requestId: 'y2', v: 1 }, items: [{ id: 1, at: '11:00' }, { id: 2, at: '11:01' }] };
    expect(compare.compare(a, b).equal).toBe(true);
    expect(compare.compare(a, { ...b, meta: { requestId: 'z', v: 2 } }).diffs).toEqual([{ path: '$.meta.v', old: 1, new: 2 }]);
  });

  it('compares unordered arrays as multisets, everywhere or at named paths', () => {
    const a = { tags: ['a', 'b', 'c'], rows: [{ id: 2 }, { id: 1 }], order: [1, 2] };
    const b = { tags: ['c', 'a', 'b'], rows: [{ id: 1 }, { id: 2 }], order: [2, 1] };
    expect(createComparator({ unorderedArrays: true }).compare(a, b).equal).toBe(true);
    const some = createComparator({ unorderedArrays: ['$.tags', '$.rows'] }).compare(a, b);
    expect(some.diffs.map((d) => d.path)).toEqual(['$.order[0]', '$.order[1]']);
    expect(createComparator({ unorderedArrays: true }).compare({ tags: ['a', 'a'] }, { tags: ['a', 'b'] }).equal).toBe(false);
  });

  it('sorts unordered arrays on what is compared, not on ignored fields', () => {
    const compare = createComparator({ unorderedArrays: ['$.items'], ignore: ['$.items[*].at'] });
    const a = { items: [{ id: 1, at: 'z' }, { id: 2, at: 'a' }] };
    const b = { items: [{ id: 2, at: 'y' }, { id: 1, at: 'b' }] };
    expect(compare.compare(a, b).equal).toBe(true);
  });

  it('treats numbers within tolerance as equal', () => {
    expect(createComparator({ numericTolerance: 0.01 }).compare({ total: 10.004 }, { total: 10 }).equal).toBe(true);
    expect(createComparator({ numericTolerance: 0.01 }).compare({ total: 10.02 }, { total: 10 }).equal).toBe(false);
    expect(createComparator({ numericTolerance: { relative: 0.001 } }).compare({ n: 100_000 }, { n: 100_050 }).equal).toBe(true);
  });

  it('redacts before anything leaves the process, including nested values', () => {
    const compare = createComparator({ redact: ['$.card.number', '$.token'] });
    const result = compare.compare({ token: 'secret-1', card: { number: '4111', exp: '01/30' } }, { token: 'secret-2', card: 'removed' });
    expect(JSON.stringify(result.diffs)).not.toContain('secret');
    expect(JSON.stringify(result.diffs)).not.toContain('4111');
    expect(result.diffs).toContainEqual({ path: '$.card', old: { number: '[redacted]', exp: '01/30' }, new: 'removed' });
    const byFunction = createComparator({ redact: (path, value) => (path.includes('email') ? 'x@x' : value) });
    expect(byFunction.compare({ email: 'a@b.c' }, { email: 'd@e.f' }).diffs).toEqual([{ path: '$.email', old: 'x@x', new: 'x@x' }]);
  });

  it('bounds the diff: 20 entries, values cut at 200 characters', () => {
    const compare = createComparator();
    const a = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]));
    const b = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i + 1]));
    const result = compare.compare(a, b);
    expect(result.differences).toBe(30);
    expect(result.diffs).toHaveLength(20);
    const long = compare.compare({ s: 'x'.repeat(500) }, { s: 'y' }).diffs[0]!;
    expect((long.old as string).length).toBe(201);
    const deep = compare.compare({ o: { text: 'x'.repeat(500) } }, { o: 1 }).diffs[0]!;
    expect(typeof deep.old).toBe('string');
    expect((deep.old as string).length).toBe(201);
  });

  it('lists the differing fields generalised, sorted and bounded, with or without a diff', () => {
    const compare = createComparator();
    const first = { id: 'evt_1', at: 1, items: [{ sku: 'a', ts: 5 }, { sku: 'b', ts: 6 }], total: 3 };
    const second = { id: 'evt_1', at: 2, items: [{ sku: 'a', ts: 7 }, { sku: 'b', ts: 8 }], total: 4 };
    expect(compare.differences(first, second)).toEqual(['$.at', '$.items[*].ts', '$.total']);
    expect(compare.compare(first, second).paths).toEqual(['$.at', '$.items[*].ts', '$.total']);
    expect(compare.differences(first, structuredClone(first))).toEqual([]);
    const wide = (n: number) => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${String(i).padStart(2, '0')}`, n]));
    const many = compare.differences(wide(1), wide(2));
    expect(many).toHaveLength(MAX_PATHS + 1);
    expect(many.at(-1)).toBe(MORE_PATHS);
  });

  it('still reports known noise, which only lines up unordered arrays', () => {
    const compare = createComparator({ unorderedArrays: true });
    const noise = new PathSet(['$.labels[*].id']);
    const old = { labels: [{ name: 'b', id: 'x9' }, { name: 'a', id: 'x1' }] };
    const rewrite = { labels: [{ name: 'a', id: 'y7' }, { name: 'b', id: 'y2' }] };
    // Lined up by name (the id is noise), the only differing field is the id itself.
    expect(compare.differences(old, rewrite, noise)).toEqual(['$.labels[*].id']);
    expect(compare.differences({ ...old, type: 'a' }, { ...rewrite, type: 'b' }, noise)).toEqual(['$.labels[*].id', '$.type']);
  });

  it('turns any value into plain data without throwing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(toPlain(cyclic)).toEqual({ a: 1, self: '[circular]' });
    expect(toPlain({ d: new Date(0), m: new Map([['k', 1n]]), s: new Set([1]), f: () => 1, n: NaN })).toEqual({
      d: '1970-01-01T00:00:00.000Z',
      m: { k: '1' },
      s: [1],
      n: 'NaN',
    });
    expect(createComparator().compare(cyclic, { a: 1, self: '[circular]' }).equal).toBe(true);
  });
});

describe('the one-pass equality for plain data', () => {
  it('agrees with the full comparison on generated values', () => {
    const quick = createComparator();
    const full = createComparator({ ignore: ['$.never.there'] }); // any option turns the one-pass path off
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.constant(undefined), fc.integer(), fc.constant(NaN), fc.constant(-0), fc.date(), fc.string({ maxLength: 3 })), { maxKeys: 4 }),
    );
    fc.assert(
      fc.property(value, value, fc.boolean(), (a, b, same) => {
        const right = same ? structuredClone(a) : b;
        expect(quick.differences(a, right)).toEqual(full.differences(a, right));
        expect(quick.compare(a, right).equal).toBe(full.compare(a, right).equal);
      }),
      { numRuns: 5_000, seed: 5 },
    );
  });

  it('leaves values that convert to plain data to the full comparison', () => {
    const quick = createComparator();
    const at = new Date('2024-01-01T00:00:00.000Z');
    const iso = at.toISOString();
    const pairs: [unknown, unknown][] = [
      [iso, at],
      [{ at: iso }, { at }],
      [[iso, 1], [at, 1]],
      [{ type: 'a', at: iso }, { at, type: 'a' }],
      [{ a: 1 }, new Map([['a', 1]])],
      [[1, 2], new Set([1, 2])],
    ];
    for (const [plain, converted] of pairs) {
      expect(quick.differences(plain, converted)).toEqual([]);
      expect(quick.differences(converted, plain)).toEqual([]);
      expect(quick.compare(plain, converted).equal).toBe(true);
    }
    expect(quick.differences({ type: 'a', at: iso }, { type: 'b', at })).toEqual(['$.type']);
  });
});
