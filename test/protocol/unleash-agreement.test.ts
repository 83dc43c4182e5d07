import { describe, expect, it } from 'vitest';
import FlexibleRolloutStrategy from 'unleash-client/lib/strategy/flexible-rollout-strategy.js';
import { basisPoints, compileRollout, resolvePath } from '@rollcall/protocol';

const partners = Array.from({ length: 10_000 }, (_, i) => `partner-${i}-${(i * 2654435761) % 9973}`);

describe('agreement with unleash-client', () => {
  it('puts exactly the partners on new that Unleash’s gradual rollout enables (groupId = salt)', () => {
    const strategy = new FlexibleRolloutStrategy();
    for (const [salt, percent] of [['psa-webhooks-v2', 5], ['psa-webhooks-v2', 25], ['queue-mover', 50], ['cleanup', 99], ['cleanup', 1]] as const) {
      const rollout = compileRollout({
        key: salt, salt, state: 'running', version: 1, step: 0, live: basisPoints(percent), shadow: 0, verify: 0,
        cohorts: [{ name: 'c1', from: 0, to: basisPoints(percent), status: 'active' }], pins: [],
      });
      const ours = partners.filter((p) => resolvePath(rollout, p) === 'new');
      const theirs = partners.filter((p) => strategy.isEnabled({ rollout: String(percent), stickiness: 'userId', groupId: salt }, { userId: p }));
      expect(ours.length, `${salt} ${percent}%`).toBe(theirs.length);
      expect(ours).toEqual(theirs);
    }
  });
});
