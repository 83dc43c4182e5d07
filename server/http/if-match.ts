/**
 * Conditional requests. Optimistic concurrency: rollouts carry `ETag: "<version>"`; mutations accept
 * `If-Match: <version>`. Caching: the SDK config and OFREP answer 304 to an `If-None-Match` naming theirs.
 */
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

/** True when an `If-None-Match` list names `etag` (or is `*`). Weak comparison, as RFC 9110 asks for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}
