/** The page frame: one stylesheet, readable from a phone to a laptop, and the live-update script. */
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';

/** A small mark for the tab, inline (the page's CSP allows data: images), so no page asks for /favicon.ico. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#24292f"/><path d="M4 8.5l2.5 2.5L12 5" stroke="#3fb950" stroke-width="2" fill="none"/></svg>')}`;

const CSS = `
:root { --fg:#1b1f24; --muted:#5b6570; --line:#d9dee3; --bg:#f6f8fa; --card:#fff; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --accent:#0969da; --new:#8250df; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; padding:.6rem 1rem; background:#24292f; color:#fff; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header .who { margin-left:auto; font-size:.85rem; opacity:.85; display:flex; gap:.6rem; align-items:center; }
header form { margin:0; }
main { max-width:1180px; margin:0 auto; padding:1rem; }
h1 { font-size:1.4rem; margin:.2rem 0 .6rem; } h2 { font-size:1.1rem; margin:1.4rem 0 .5rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; margin-bottom:1rem; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:.9rem; }
th, td { text-align:left; padding:.35rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.78rem; font-weight:600; border:1px solid currentColor; white-space:nowrap; }
.ok { color:var(--ok); } .bad { color:var(--bad); } .warn { color:var(--warn); } .muted { color:var(--muted); }
.steps { display:flex; flex-wrap:wrap; gap:.3rem; list-style:none; padding:0; margin:.4rem 0; }
.steps li { flex:1 1 7rem; padding:.35rem .5rem; border-radius:6px; background:#eaeef2; font-size:.85rem; }
.steps li.done { background:#dafbe1; } .steps li.current { background:var(--accent); color:#fff; font-weight:600; }
.bar { position:relative; height:10px; background:#eaeef2; border-radius:5px; overflow:hidden; min-width:6rem; }
.bar span { position:absolute; top:0; bottom:0; background:var(--new); }
.bar span.reverted { background:var(--bad); opacity:.5; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 430px), 1fr)); gap:1rem; }
.grid.small { grid-template-columns:repeat(auto-fill, minmax(min(100%, 300px), 1fr)); gap:.6rem; }
.chart svg { width:100%; height:auto; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:.2rem .8rem; font-size:.8rem; }
.legend i { display:inline-block; width:.9rem; height:0; border-top:3px solid; vertical-align:middle; margin-right:.25rem; }
.legend i.dashed { border-top-style:dashed; }
.diff del { background:#ffebe9; color:var(--bad); text-decoration:none; padding:0 .2rem; }
.diff ins { background:#dafbe1; color:var(--ok); text-decoration:none; padding:0 .2rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.85em; }
.mono { word-break:break-all; }
form.action { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; margin:.3rem 0; }
input, select, button { font:inherit; padding:.35rem .5rem; border:1px solid var(--line); border-radius:6px; }
input[type=text], input[type=password] { flex:1 1 14rem; min-width:0; }
button { background:#f3f4f6; cursor:pointer; } button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button.danger { background:var(--bad); color:#fff; border-color:var(--bad); }
.flash { padding:.6rem .9rem; border-radius:6px; margin-bottom:1rem; }
.flash.ok { background:#dafbe1; color:var(--ok); } .flash.bad { background:#ffebe9; color:var(--bad); }
.live-dot { font-size:.75rem; color:var(--muted); }
@media (max-width: 640px) { body { font-size:14px; } main { padding:.6rem; } th, td { padding:.3rem .35rem; } .hide-small { display:none; } }
`;

export function Layout(props: { title: string; who?: { kind: string; csrf: string } | undefined; liveMs?: number; children?: Child }) {
  return (
    <>
    {raw('<!DOCTYPE html>')}
    <html lang="en" data-live-ms={String(props.liveMs ?? 2000)}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · Rollcall</title>
        <link rel="icon" href={FAVICON} />
        <style>{CSS}</style>
        <script src="/assets/live.js" defer></script>
      </head>
      <body>
        <header>
          <a href="/">Rollcall</a>
          <a href="/docs" style="font-weight:400">API</a>
          {props.who && (
            <span class="who">
              signed in with {props.who.kind === 'admin' ? 'an admin' : 'a read'} key
              <form method="post" action="/logout">
                <input type="hidden" name="csrf" value={props.who.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </span>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
    </>
  );
}

/**
 * Live updates: an element with `data-live="<url>"` is replaced every few
 * seconds by the fragment that URL renders (the same server-rendered markup),
 * so the page stays current without a reload, and reads fine without JavaScript.
 */
export const LIVE_JS = `(() => {
  const every = Number(document.documentElement.dataset.liveMs || 2000);
  async function refresh() {
    for (const el of document.querySelectorAll('[data-live]')) {
      if (el.contains(document.activeElement) && document.activeElement.tagName !== 'BODY') continue;
      try {
        const res = await fetch(el.dataset.live, { credentials: 'same-origin', headers: { accept: 'text/html' } });
        if (res.status === 401) { location.href = '/login'; return; }
        if (!res.ok) continue;
        const html = await res.text();
        const next = document.createElement('div');
        next.innerHTML = html;
        const fresh = next.firstElementChild;
        if (fresh) { el.replaceWith(fresh); }
      } catch (e) { /* the next round tries again */ }
    }
    const dot = document.getElementById('live-at');
    if (dot) dot.textContent = '· live, updated ' + new Date().toISOString().slice(0, 19).replace('T', ' ') + 'Z';
  }
  setInterval(refresh, every);
})();`;
