import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { MAX_ATTEMPTS, parseRetryAfter, retryDelay, RETRY_DELAYS_MS } from '../../../server/callbacks/schedule.ts';
import { generateSecret, sign, signedHeaders } from '../../../server/callbacks/signing.ts';

describe('the retry schedule', () => {
  it('waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then stops after eight attempts', () => {
    expect(RETRY_DELAYS_MS).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(MAX_ATTEMPTS).toBe(8);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(n, 0.5, null))).toEqual([...RETRY_DELAYS_MS]);
    expect(retryDelay(8, 0.5, null)).toBeNull();
  });

  it('jitters each delay by at most 10 %', () => {
    expect(retryDelay(1, 0, null)).toBe(4_500);
    expect(retryDelay(1, 0.999999, null)).toBe(5_500);
    expect(retryDelay(7, 0, null)).toBe(32_400_000);
  });

  it('waits at least Retry-After, and at most a day for it', () => {
    expect(retryDelay(1, 0.5, 120_000)).toBe(120_000);
    expect(retryDelay(2, 0.5, 1_000)).toBe(300_000);
    expect(retryDelay(1, 0.5, 10 * 86_400_000)).toBe(86_400_000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 10, 22, 10, 0, 0);
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});

describe('signing', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
  });

  it('signs exactly as the standardwebhooks reference does', () => {
    const secret = generateSecret();
    const body = '{"type":"cohort.reverted"}';
    const timestamp = Math.floor(Date.now() / 1000);
    expect(sign(secret, 'msg_1', timestamp, body)).toBe(new Webhook(secret).sign('msg_1', new Date(timestamp * 1000), body));
  });

  it('signs with the previous secret too until it expires', () => {
    const now = Date.now();
    const secrets = { secret: generateSecret(), previousSecret: generateSecret(), previousSecretUntil: now + 1000 };
    const during = signedHeaders(secrets, 'msg_1', now, '{}');
    expect(during['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [secrets.secret, secrets.previousSecret]) expect(() => new Webhook(secret).verify('{}', during)).not.toThrow();
    const after = signedHeaders(secrets, 'msg_1', now + 1000, '{}');
    expect(after['webhook-signature']!.split(' ')).toHaveLength(1);
  });
});
