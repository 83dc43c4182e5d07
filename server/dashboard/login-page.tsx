/** Sign-in: paste a read or admin key. */
export function LoginForm(props: { next: string; error?: string | undefined }) {
  return (
    <section class="card" style="max-width:34rem;margin:2rem auto">
      <h1>Sign in</h1>
      <p class="muted">Paste a Rollcall key: a read key to watch, an admin key to act. It is kept in an HttpOnly cookie for this site only.</p>
      {props.error && <div class="flash bad">{props.error}</div>}
      <form class="action" method="post" action="/login">
        <input type="hidden" name="next" value={props.next} />
        <input type="password" name="key" required autocomplete="off" placeholder="rc_read_… or rc_admin_…" aria-label="key" />
        <button type="submit" class="primary">Sign in</button>
      </form>
    </section>
  );
}
