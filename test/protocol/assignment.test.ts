import { describe, expect, it } from 'vitest';
import { compileRollout, murmur3, positionOf, positionOfHash, resolvePath, routeInto, type RolloutSnapshot, type Route } from '@rollcall/protocol';

const partners = Array.from({ length: 10_000 }, (_, i) => `partner-${i}`);

function snapshot(overrides: Partial<RolloutSnapshot> = {}): RolloutSnapshot {
  return { key: 'r', salt: 'r', state: 'running', version: 1, step: 1, live: 0, shadow: 0, verify: 0, cohorts: [], pins: [], ...overrides };
}

describe('positions', () => {
  it('follows the contract formula', () => {
    expect(positionOf('psa-webhooks-v2', 'partner-42')).toBe(916);
    expect(positionOf('s1', 'ü-partner')).toBe(9079);
    const h = 0xdbfefe89;
    expect(positionOfHash(h)).toBe((h % 100) * 100 + (Math.floor(h / 100) % 100));
  });

  it('keeps every position inside 0..9999', () => {
    for (const hash of [0, 1, 99, 100, 9999, 0xffffffff, 0x80000000]) {
      const p = positionOfHash(hash);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(10_000);
    }
  });

  it('splits 10,000 partners within 1 percentage point of the configured share', () => {
    for (const percent of [1, 5, 10, 25, 33.33, 50, 75, 99]) {
      const rollout = compileRollout(snapshot({ live: percent * 100, cohorts: [{ name: 'c1', from: 0, to: Math.round(percent * 100), status: 'active' }] }));
      const onNew = partners.filter((p) => resolvePath(rollout, p) === 'new').length;
      expect(Math.abs((onNew / partners.length) * 100 - percent), `${percent}%`).toBeLessThanOrEqual(1);
    }
  });

  it('only adds partners when the percentage is raised', () => {
    for (const salt of ['psa-webhooks-v2', 'queue-consumer', 'ü']) {
      const cohorts: RolloutSnapshot['cohorts'] = [];
      let previous = new Set<string>();
      for (const percent of [0.5, 1, 5, 10, 25, 33.33, 50, 99.99, 100]) {
        const from = cohorts.at(-1)?.to ?? 0;
        cohorts.push({ name: `c${cohorts.length + 1}`, from, to: Math.round(percent * 100), status: 'active' });
        const rollout = compileRollout(snapshot({ salt, live: Math.round(percent * 100), cohorts: [...cohorts] }));
        const current = new Set(partners.filter((p) => resolvePath(rollout, p) === 'new'));
        const dropped = [...previous].filter((p) => !current.has(p));
        expect(dropped, `${salt} at ${percent}%`).toEqual([]);
        expect(current.size).toBeGreaterThanOrEqual(previous.size);
        previous = current;
      }
      expect(previous.size).toBe(partners.length);
    }
  });

  it('is the Unleash gradual-rollout bucket for whole percentages', () => {
    // Unleash: murmur3(`${groupId}:${userId}`) % 100 + 1 <= percentage
    const disagreements: string[] = [];
    for (const p of partners) {
      const bucket = murmur3(`g:${p}`) % 100;
      for (const percent of [1, 10, 50, 99]) {
        if ((positionOf('g', p) < percent * 100) !== (bucket + 1 <= percent)) disagreements.push(`${p}@${percent}`);
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe('path of a partner', () => {
  const c1 = { name: 'c1', from: 0, to: 500, status: 'active' as const };
  const c2 = { name: 'c2', from: 500, to: 2500, status: 'reverted' as const };
  const base = { live: 2500, shadow: 5000, cohorts: [c1, c2] };
  const byPosition = (salt: string, lo: number, hi: number) => partners.find((p) => positionOf(salt, p) >= lo && positionOf(salt, p) < hi)!;
  const inC1 = byPosition('r', 0, 500);
  const inC2 = byPosition('r', 500, 2500);
  const inShadow = byPosition('r', 2500, 5000);
  const outside = byPosition('r', 5000, 10_000);

  it('routes draft and reverted rollouts to old and completed ones to new, pins or not', () => {
    const pins = [{ partnerId: inC1, path: 'shadow' as const }];
    expect(resolvePath(compileRollout(snapshot({ ...base, state: 'draft', pins })), inC1)).toBe('old');
    expect(resolvePath(compileRollout(snapshot({ ...base, state: 'reverted', pins })), inC1)).toBe('old');
    expect(resolvePath(compileRollout(snapshot({ ...base, state: 'completed', pins })), outside)).toBe('new');
    expect(resolvePath(compileRollout(snapshot({ ...base, state: 'completed', pins })), inC1)).toBe('new');
  });

  it('routes by cohort status and shadow band while running or paused', () => {
    for (const state of ['running', 'paused'] as const) {
      const rollout = compileRollout(snapshot({ ...base, state }));
      expect(resolvePath(rollout, inC1)).toBe('new');
      expect(resolvePath(rollout, inC2)).toBe('old');
      expect(resolvePath(rollout, inShadow)).toBe('shadow');
      expect(resolvePath(rollout, outside)).toBe('old');
    }
  });

  it('lets a pin win over cohorts and the shadow band', () => {
    const rollout = compileRollout(
      snapshot({ ...base, pins: [{ partnerId: inC1, path: 'old' }, { partnerId: outside, path: 'new' }, { partnerId: inC2, path: 'shadow' }] }),
    );
    expect(resolvePath(rollout, inC1)).toBe('old');
    expect(resolvePath(rollout, outside)).toBe('new');
    expect(resolvePath(rollout, inC2)).toBe('shadow');
  });

  it('names the cohort a partner is measured in, with the same path as resolvePath', () => {
    const out: Route = { path: 'old', cohort: '' };
    const cases: [Partial<RolloutSnapshot>, string, Route][] = [
      [base, inC1, { path: 'new', cohort: 'c1' }],
      [base, inC2, { path: 'old', cohort: 'c2' }],
      [base, inShadow, { path: 'shadow', cohort: 'shadow' }],
      [base, outside, { path: 'old', cohort: 'baseline' }],
      [{ ...base, pins: [{ partnerId: outside, path: 'new' }] }, outside, { path: 'new', cohort: 'pinned' }],
      [{ ...base, state: 'completed' }, inC2, { path: 'new', cohort: 'c2' }],
      [{ ...base, state: 'completed' }, outside, { path: 'new', cohort: 'completed' }],
      [{ ...base, state: 'reverted' }, inC1, { path: 'old', cohort: 'baseline' }],
      [{ ...base, state: 'draft' }, inShadow, { path: 'old', cohort: 'baseline' }],
    ];
    for (const [overrides, partner, expected] of cases) {
      const rollout = compileRollout(snapshot(overrides));
      expect(routeInto(rollout, partner, out)).toEqual(expected);
      expect(resolvePath(rollout, partner)).toBe(expected.path);
    }
  });

  it('uses the salt, not the key, to place partners', () => {
    const a = compileRollout(snapshot({ salt: 'one', cohorts: [{ name: 'c1', from: 0, to: 5000, status: 'active' }] }));
    const b = compileRollout(snapshot({ salt: 'two', cohorts: [{ name: 'c1', from: 0, to: 5000, status: 'active' }] }));
    const differ = partners.slice(0, 200).filter((p) => resolvePath(a, p) !== resolvePath(b, p)).length;
    expect(differ).toBeGreaterThan(50);
  });
});
