/** Optimistic concurrency: rollouts carry `ETag: "<version>"`; mutations accept `If-Match: <version>`. */
import type { Context } from 'hono';
import { badRequest } from '../errors.ts';

export const versionTag = (version: number) => `"${version}"`;

/** The version named by `If-Match`, or undefined when absent or `*`. Quotes and `W/` are accepted. */
export function ifMatchVersion(c: Context): number | undefined {
  const header = c.req.header('if-match');
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (match === null) throw badRequest('invalid_if_match', 'If-Match must name one rollout version, such as "3"');
  return Number(match[1]);
}
