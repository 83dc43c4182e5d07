/** Argument checks shared by commands: a bad value is a usage error (exit 2) before anything is sent. */
import { InvalidArgumentError } from 'commander';

/**
 * The API's patterns (server/rollouts/schemas.ts), restated here because that
 * module loads zod, which would double the start-up of every command; a test
 * holds the two equal.
 */
export const ROLLOUT_KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const COHORT_NAME = /^c[1-9][0-9]{0,3}$/;

/** A rollout key; checked here because it becomes part of a URL path. */
export function rolloutKeyArgument(value: string): string {
  if (!ROLLOUT_KEY.test(value)) throw new InvalidArgumentError('a rollout key is 1-64 of a-z 0-9 . _ - and starts with a letter or digit');
  return value;
}

export function cohortArgument(value: string): string {
  if (!COHORT_NAME.test(value)) throw new InvalidArgumentError('a cohort is named c1, c2, …');
  return value;
}

/** An id from the API (key_…, cb_…, dlv_…): letters, digits, _ and - only, since it becomes part of a URL path. */
export function idArgument(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(value)) throw new InvalidArgumentError('an id is letters, digits, _ and - only');
  return value;
}

export function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return Number(value);
}

/** `30s`, `10m`, `1h`, `1.5h` or plain seconds, in milliseconds. */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('a duration such as 90s, 10m or 1h');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}
