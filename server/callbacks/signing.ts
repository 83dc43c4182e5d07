/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "<webhook-id>.<webhook-timestamp>.<body>">`, keyed by the base64 part of a
 * `whsec_` secret. During a rotation both secrets sign, space-separated.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** `whsec_` and 32 random bytes in base64. */
export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

export interface SigningSecrets {
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: number | null;
}

/** The three Standard Webhooks headers for one attempt at time `now` (ms). */
export function signedHeaders(secrets: SigningSecrets, id: string, now: number, body: string): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  const signatures = [sign(secrets.secret, id, timestamp, body)];
  if (secrets.previousSecret !== null && (secrets.previousSecretUntil ?? 0) > now) {
    signatures.push(sign(secrets.previousSecret, id, timestamp, body));
  }
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatures.join(' '),
  };
}
