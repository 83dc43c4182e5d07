/**
 * Dashboard sign-in: the pasted key (read or admin) is kept in an HttpOnly,
 * SameSite=Strict cookie and checked like a bearer key on every request, so
 * revoking the key signs the browser out. Forms that change state carry a
 * CSRF token derived from the key (a page from elsewhere cannot know it) and
 * must come from this origin.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { AppError } from '../errors.ts';
import type { KeyService, Principal } from '../keys/service.ts';

export const SESSION_COOKIE = 'rollcall_session';
const SESSION_DAYS = 7;

export type DashboardEnv = { Variables: { principal: Principal; csrf: string } };

export function csrfToken(key: string): string {
  return createHmac('sha256', key).update('rollcall dashboard csrf').digest('base64url');
}

/** Whether a form's token is the session's (`csrfToken` of its key), compared in constant time. */
export function csrfMatches(token: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(token);
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function startSession(c: Context, key: string): void {
  setCookie(c, SESSION_COOKIE, key, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
    path: '/',
    maxAge: SESSION_DAYS * 86_400,
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}

/** Who is signed in, or null (an unknown, revoked or SDK key counts as signed out). */
export async function sessionPrincipal(c: Context, keys: KeyService): Promise<{ principal: Principal; key: string } | null> {
  const key = getCookie(c, SESSION_COOKIE);
  if (key === undefined) return null;
  const principal = await keys.authenticate(key);
  if (principal === null || principal.kind === 'sdk') return null;
  return { principal, key };
}

/** Pages behind sign-in: without a valid session, the sign-in page (or 401 for fragments), and nothing else. */
export function requireSession(keys: KeyService): MiddlewareHandler<DashboardEnv> {
  return async function dashboardSession(c, next) {
    const session = await sessionPrincipal(c, keys);
    if (session === null) {
      if (getCookie(c, SESSION_COOKIE) !== undefined) endSession(c);
      if (c.req.method === 'GET' && !c.req.path.endsWith('/live')) return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
      return c.text('sign in first', 401);
    }
    c.set('principal', session.principal);
    c.set('csrf', csrfToken(session.key));
    await next();
  };
}

/**
 * Forms must be posted from this site: the browser's `Sec-Fetch-Site` says
 * same-origin, or its `Origin` is this server's (as hono's csrf() checks).
 * Behind a proxy that changes the host or scheme, the proxy must pass them on.
 */
export function sameOriginForms(): MiddlewareHandler {
  return async function checkFormOrigin(c, next) {
    if (c.req.method === 'POST') {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      if (site !== 'same-origin' && origin !== new URL(c.req.url).origin) {
        throw new AppError(403, 'cross_site_form', 'forms must be posted from a page of this site');
      }
    }
    await next();
  };
}
