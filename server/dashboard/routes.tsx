/**
 * The dashboard, served by the server itself with hono/jsx: sign-in, the
 * rollouts list, one page per rollout with live updates, admin actions, and
 * the API page. Every page but sign-in and /docs needs a session.
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { describe } from '../http/openapi.ts';
import { clientAddress, type FailureLimiter } from '../http/failure-limit.ts';
import type { KeyService } from '../keys/service.ts';
import type { LifecycleCommand } from '../rollouts/lifecycle.ts';
import { cohortNameSchema, rolloutKeySchema } from '../rollouts/schemas.ts';
import type { RolloutService } from '../rollouts/service.ts';
import { ACTIONS, Actions } from './actions.tsx';
import { DocsPage } from './docs-page.tsx';
import { LIVE_JS, Layout } from './layout.tsx';
import { RolloutList } from './list-page.tsx';
import { LoginForm } from './login-page.tsx';
import { IgnoreField, ignoreField, ignoreForm } from './mismatch-fields.tsx';
import type { DashboardReadModel } from './read-model.ts';
import { RolloutLive } from './rollout-page.tsx';
import { csrfMatches, csrfToken, endSession, requireSession, sameOriginForms, sessionPrincipal, startSession, type DashboardEnv } from './session.ts';

const FLASH_COOKIE = 'rollcall_flash';

/** Dashboard routes in the API description: HTML, signed in by cookie. */
const page = (summary: string, open = false) =>
  describe({ summary, tag: 'dashboard', public: true, success: { status: 200, description: open ? 'HTML' : 'HTML (with a session cookie; otherwise a redirect to /login)', contentType: 'text/html' } });

export interface DashboardDeps {
  keys: KeyService;
  failures: FailureLimiter;
  rollouts: RolloutService;
  read: DashboardReadModel;
  openApi: () => unknown;
  /** The clock's reading, for the ages shown beside times. */
  now: () => number;
  /** How often pages refresh their live parts (2 s). */
  liveMs?: number;
}

const actionForm = z.object({
  csrf: z.string().max(200),
  reason: z.string().trim().min(1, 'give a reason').max(1000),
  version: z.string().regex(/^\d{1,12}$/).transform(Number).optional(),
  cohort: z.union([cohortNameSchema, z.literal('')]).optional(),
  // The resume form's checkboxes: one name, or several.
  cohorts: z
    .union([cohortNameSchema, z.array(cohortNameSchema).max(100)])
    .optional()
    .transform((v) => (v === undefined ? [] : [v].flat())),
});

/** A form's fields; a body that is not a readable form counts as an empty one (the checks after it refuse). */
async function readForm(c: Context): Promise<Record<string, unknown>> {
  try {
    return (await c.req.parseBody({ all: true })) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Only a path on this site (not `//elsewhere`) may be a place to return to after sign-in. */
const localPath = (next: unknown) => (typeof next === 'string' && /^\/(?![/\\])[\w\-./%]*$/.test(next) ? next : '/');

function flash(c: Context, ok: boolean, message: string): void {
  setCookie(c, FLASH_COOKIE, JSON.stringify({ ok, message: message.slice(0, 500) }), { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 60 });
}

function takeFlash(c: Context): { ok: boolean; message: string } | null {
  const raw = getCookie(c, FLASH_COOKIE);
  if (raw === undefined) return null;
  deleteCookie(c, FLASH_COOKIE, { path: '/' });
  try {
    const parsed = JSON.parse(raw) as { ok: unknown; message: unknown };
    return typeof parsed.message === 'string' ? { ok: parsed.ok === true, message: parsed.message } : null;
  } catch {
    return null;
  }
}

/** The dashboard's own paths: its middleware must not reach the API mounted beside it. */
export const DASHBOARD_PATHS = ['/', '/live', '/login', '/logout', '/docs', '/assets/*', '/rollouts/*'];
const SIGNED_IN_PATHS = ['/', '/live', '/rollouts/*'];

export function dashboardRoutes(deps: DashboardDeps) {
  const app = new Hono<DashboardEnv>();
  const liveMs = deps.liveMs ?? 2_000;
  const headers = secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"], formAction: ["'self'"] },
    referrerPolicy: 'same-origin',
  });
  for (const path of DASHBOARD_PATHS) {
    app.use(path, headers);
    // Forms that change state must come from this site (and carry the session's token, below).
    app.use(path, sameOriginForms());
  }

  app.get('/assets/live.js', page('The dashboard script (live updates)', true), (c) => c.body(LIVE_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));

  app.get('/docs', page('This API, as a page', true), (c) => c.html(<Layout title="API"><DocsPage document={deps.openApi()} /></Layout>));

  app.get('/login', page('Dashboard: sign-in form', true), async (c) => {
    if ((await sessionPrincipal(c, deps.keys)) !== null) return c.redirect('/', 303);
    return c.html(<Layout title="Sign in"><LoginForm next={localPath(c.req.query('next'))} /></Layout>);
  });

  app.post('/login', page('Dashboard: sign in with a read or admin key (form: key, next)', true), async (c) => {
    const form = await readForm(c);
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    const next = localPath(form.next);
    const address = clientAddress(c);
    try {
      deps.failures.assertAllowed(c, address);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return c.html(<Layout title="Sign in"><LoginForm next={next} error={error.message} /></Layout>, 429);
    }
    const principal = key === '' ? null : await deps.keys.authenticate(key);
    if (principal === null || principal.kind === 'sdk') {
      if (principal === null) deps.failures.fail(address);
      const error = principal?.kind === 'sdk' ? 'An SDK key cannot sign in: use a read or admin key.' : 'That key is unknown or revoked.';
      return c.html(<Layout title="Sign in"><LoginForm next={next} error={error} /></Layout>, 401);
    }
    startSession(c, key);
    return c.redirect(next, 303);
  });

  app.post('/logout', page('Dashboard: sign out (form: csrf)', true), async (c) => {
    const session = await sessionPrincipal(c, deps.keys);
    const form = await readForm(c);
    if (session !== null && !csrfMatches(csrfToken(session.key), form.csrf)) return c.text('the form is stale: reload the page', 403);
    endSession(c);
    return c.redirect('/login', 303);
  });

  const signedIn = new Hono<DashboardEnv>();
  for (const path of SIGNED_IN_PATHS) signedIn.use(path, requireSession(deps.keys));
  const who = (c: Context<DashboardEnv>) => ({ kind: c.var.principal.kind, csrf: c.var.csrf });

  signedIn.get('/', page('Dashboard: the rollouts'), async (c) => {
    const rows = await deps.read.rolloutList();
    return c.html(
      <Layout title="Rollouts" who={who(c)} liveMs={liveMs}>
        <h1>Rollouts</h1>
        <RolloutList rows={rows} now={deps.now()} />
      </Layout>,
    );
  });
  signedIn.get('/live', page('Dashboard: the rollouts list, as a fragment'), async (c) => c.html(<RolloutList rows={await deps.read.rolloutList()} now={deps.now()} />));

  signedIn.get('/rollouts/:key', page('Dashboard: one rollout'), async (c) => {
    const key = rolloutKeySchema.safeParse(c.req.param('key'));
    if (!key.success) return c.html(<Layout title="Not found" who={who(c)}><p>No such rollout.</p></Layout>, 404);
    const data = await deps.read.rolloutPage(key.data).catch((error: unknown) => {
      if (error instanceof AppError && error.status === 404) return null;
      throw error;
    });
    if (data === null) return c.html(<Layout title="Not found" who={who(c)}><p>No rollout {key.data}.</p></Layout>, 404);
    const message = takeFlash(c);
    return c.html(
      <Layout title={data.rollout.key} who={who(c)} liveMs={liveMs}>
        <p><a href="/">← all rollouts</a></p>
        <h1>{data.rollout.key}</h1>
        {data.rollout.description && <p class="muted">{data.rollout.description}</p>}
        {message && <div class={`flash ${message.ok ? 'ok' : 'bad'}`} role="status">{message.message}</div>}
        {c.var.principal.kind === 'admin' && <Actions rollout={data.rollout} csrf={c.var.csrf} />}
        {c.var.principal.kind === 'admin' && <IgnoreField data={data} csrf={c.var.csrf} />}
        <RolloutLive data={data} />
      </Layout>,
    );
  });

  signedIn.get('/rollouts/:key/live', page('Dashboard: one rollout, as a fragment'), async (c) => {
    const key = rolloutKeySchema.safeParse(c.req.param('key'));
    if (!key.success) return c.text('no such rollout', 404);
    return c.html(<RolloutLive data={await deps.read.rolloutPage(key.data)} />);
  });

  signedIn.post('/rollouts/:key/actions/:action', page('Dashboard: a lifecycle action (form: csrf, reason, version, cohort)'), async (c) => {
    const key = rolloutKeySchema.safeParse(c.req.param('key'));
    const action = ACTIONS.find((a) => a === c.req.param('action'));
    if (!key.success || action === undefined) return c.text('no such action', 404);
    if (c.var.principal.kind !== 'admin') return c.text('a read key may not change rollouts', 403);
    const back = `/rollouts/${encodeURIComponent(key.data)}`;
    const body = await readForm(c);
    if (!csrfMatches(c.var.csrf, body.csrf)) return c.text('the form is stale: reload the page', 403);
    const form = actionForm.safeParse(body);
    if (!form.success) {
      flash(c, false, `${action}: ${form.error.issues[0]?.message ?? 'invalid form'}`);
      return c.redirect(back, 303);
    }
    const command: LifecycleCommand =
      action === 'revert'
        ? { action, kind: 'manual', ...(form.data.cohort ? { cohort: form.data.cohort } : {}) }
        : action === 'resume'
          ? { action, cohorts: form.data.cohorts }
          : { action };
    try {
      const view = await deps.rollouts.transition(key.data, command, { actor: c.var.principal.keyId, ifMatch: form.data.version, reason: form.data.reason });
      const what =
        action === 'revert'
          ? `reverted ${form.data.cohort ? `cohort ${form.data.cohort}` : 'the rollout'}`
          : action === 'resume' && form.data.cohorts.length > 0
            ? `resumed; ${form.data.cohorts.join(', ')} back on new`
            : `${action}: done`;
      flash(c, true, `${what} — now ${view.state}, version ${view.version}`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(c, false, `${action} refused: ${error.message}`);
    }
    return c.redirect(back, 303);
  });

  signedIn.post('/rollouts/:key/ignore', page('Dashboard: ignore a field in the rollout\'s compare rules (form: csrf, path, reason, version)'), async (c) => {
    const key = rolloutKeySchema.safeParse(c.req.param('key'));
    if (!key.success) return c.text('no such rollout', 404);
    if (c.var.principal.kind !== 'admin') return c.text('a read key may not change rollouts', 403);
    const body = await readForm(c);
    if (!csrfMatches(c.var.csrf, body.csrf)) return c.text('the form is stale: reload the page', 403);
    const form = ignoreForm.safeParse(body);
    try {
      if (!form.success) flash(c, false, `ignore: ${form.error.issues[0]?.message ?? 'invalid form'}`);
      else flash(c, true, await ignoreField(deps.rollouts, key.data, form.data.path, { actor: c.var.principal.keyId, ifMatch: form.data.version, reason: form.data.reason }));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(c, false, `ignore refused: ${error.message}`);
    }
    return c.redirect(`/rollouts/${encodeURIComponent(key.data)}`, 303);
  });

  app.route('/', signedIn);
  return app;
}
