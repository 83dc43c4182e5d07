/** One rollout: its plan, cohorts against their guards, charts, lost messages, diffs, audit and callbacks. */
import { LineChart, type Series } from './chart.tsx';
import { band, colorOf, num, pct, stateClass, when } from './format.ts';
import type { RolloutPageData } from './read-model.ts';
import { MismatchFields } from './mismatch-fields.tsx';

export function StepBar(props: { data: RolloutPageData }) {
  const { rollout } = props.data;
  return (
    <ol class="steps" aria-label="plan">
      {rollout.plan.map((step, i) => {
        const current = rollout.step === i;
        const done = rollout.step !== null && i < rollout.step;
        return (
          <li class={current ? 'current' : done ? 'done' : ''} aria-current={current ? 'step' : undefined}>
            {i + 1}. live {step.live}%{step.shadow !== undefined && step.shadow > step.live ? `, shadow ${step.shadow}%` : ''}
            {step.verify ? `, verify ${step.verify}` : ''}
          </li>
        );
      })}
    </ol>
  );
}

function Rate(props: { value: number | null; max: number }) {
  if (props.value === null) return <span class="muted">—</span>;
  return (
    <span class={props.value > props.max ? 'bad' : 'ok'} title={`guard: ${pct(props.max)}`}>
      {pct(props.value)}
    </span>
  );
}

function Cohorts(props: { data: RolloutPageData }) {
  const { health } = props.data;
  const t = health.thresholds;
  return (
    <div class="card scroll">
      <table id="cohorts">
        <thead>
          <tr>
            <th>cohort</th>
            <th>band</th>
            <th>status</th>
            <th class="num">received</th>
            <th class="num">processed</th>
            <th class="num">failed</th>
            <th class="num">lost</th>
            <th class="num">mismatched</th>
            <th class="num">loss</th>
            <th class="num">failure Δ</th>
            <th class="num">mismatch</th>
          </tr>
        </thead>
        <tbody>
          {health.cohorts.map((c) => (
            <tr data-cohort={c.name} data-status={c.status ?? ''}>
              <td>
                <strong style={`color:${colorOf(c.name)}`}>{c.name}</strong>
                {c.breached && <div class="bad" style="font-size:.8rem">{c.breaches[0]?.reason}</div>}
              </td>
              <td>{c.band === null ? <span class="muted">{c.kind}</span> : <span class="mono">{band(c.band.from, c.band.to)}</span>}</td>
              <td>{c.status === null ? <span class="muted">—</span> : <span class={`badge ${c.status === 'active' ? 'ok' : 'bad'}`}>{c.status}</span>}</td>
              <td class="num">{num(c.received)}</td>
              <td class="num">{num(c.processed)}</td>
              <td class="num">{num(c.failed)}</td>
              <td class="num">{num(c.lost)}</td>
              <td class="num">{num(c.mismatched)}</td>
              <td class="num"><Rate value={c.rates.loss} max={t.maxLossRate} /></td>
              <td class="num"><Rate value={c.rates.failureDelta} max={t.maxFailureRateDelta} /></td>
              <td class="num"><Rate value={c.rates.mismatch} max={t.maxMismatchRate} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted" style="font-size:.8rem;margin:.4rem 0 0">
        Over the last {health.window.seconds} s. Guards: loss ≤ {pct(t.maxLossRate)}, failure ≤ baseline + {pct(t.maxFailureRateDelta)}, mismatch ≤ {pct(t.maxMismatchRate)}, from {t.minSample} messages; grace {t.graceSeconds} s.
      </p>
      {(health.reporters.lagging.length > 0 || health.reporters.gone.length > 0) && (
        <p class="reporters" style="font-size:.8rem;margin:.4rem 0 0">
          Reporters: {health.reporters.live} live
          {health.reporters.lagging.map((r) => `; ${r.instanceId} ${r.lagSeconds} s behind`).join('')}
          {health.reporters.gone.map((r) => `; ${r.instanceId} gone since ${r.since}`).join('')} — verdicts wait for the live ones.
        </p>
      )}
    </div>
  );
}

function Charts(props: { data: RolloutPageData }) {
  const { series, from, now } = props.data;
  const flow: Series[] = series.flatMap((s) => [
    { name: `${s.cohort} received`, color: colorOf(s.cohort), points: s.steps.map((p) => [p[0], p[1]] as [number, number]) },
    { name: `${s.cohort} processed`, color: colorOf(s.cohort), dashed: true, points: s.steps.map((p) => [p[0], p[2]] as [number, number]) },
  ]);
  const mismatch: Series[] = series
    .filter((s) => s.steps.some((p) => p[4] > 0))
    .map((s) => ({ name: s.cohort, color: colorOf(s.cohort), points: s.steps.filter((p) => p[4] > 0).map((p) => [p[0], p[5] / p[4]] as [number, number]) }));
  return (
    <div class="grid">
      <LineChart title="Received (solid) vs processed (dashed), per cohort and step" from={from} to={now} series={flow} />
      <LineChart title="Mismatch rate of compared messages" from={from} to={now} series={mismatch} format={(v) => pct(v, 1)} empty="no comparisons in this window" />
    </div>
  );
}

function Lost(props: { data: RolloutPageData }) {
  const { lost, health } = props.data;
  const r = health.replay;
  return (
    <div class="card scroll">
      <p style="margin:0 0 .4rem">
        <strong>{num(r.lost)}</strong> lost ({num(r.leased)} being replayed), <strong>{num(r.replayed)}</strong> replayed, <strong>{num(r.late)}</strong> late. Newest:
      </p>
      <table id="lost">
        <thead>
          <tr><th>message</th><th>partner</th><th>cohort</th><th>path</th><th>received</th><th>status</th></tr>
        </thead>
        <tbody>
          {lost.length === 0 && <tr><td colspan={6} class="muted">none</td></tr>}
          {lost.map((m) => (
            <tr>
              <td class="mono">{m.messageId}</td>
              <td class="mono">{m.partnerId}</td>
              <td>{m.cohort}</td>
              <td>{m.path}</td>
              <td>{when(m.receivedAt)}</td>
              <td><span class={`badge ${m.status === 'lost' ? 'bad' : m.status === 'replayed' ? 'ok' : 'warn'}`}>{m.status}</span></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

function Mismatches(props: { data: RolloutPageData }) {
  const { samples } = props.data;
  if (samples.length === 0) return <p class="muted card">No mismatch samples.</p>;
  return (
    <div class="card scroll">
      <table id="mismatches">
        <thead>
          <tr><th>when</th><th>cohort</th><th>message</th><th>differences (old → new)</th></tr>
        </thead>
        <tbody>
          {samples.map((s) => (
            <tr>
              <td>{when(s.at)}</td>
              <td>{s.cohort}</td>
              <td class="mono">{s.messageId}</td>
              <td class="diff">
                {s.kind !== 'diff' && <span class="badge bad">{s.kind}</span>}
                {s.withdrawn && <span class="badge muted">withdrawn: noise only</span>}
                {(s.diffs as { path: string; old: unknown; new: unknown }[]).map((d) => (
                  <div>
                    <code>{d.path}</code>: <del>{shown(d.old)}</del> → <ins>{shown(d.new)}</ins>
                  </div>
                ))}
                {s.noise.length > 0 && <details class="muted"><summary>noise ({s.noise.length})</summary>{s.noise.map((d) => <div><code>{d.path}</code>: <del>{shown(d.old)}</del> → <ins>{shown(d.new)}</ins></div>)}</details>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Audit(props: { data: RolloutPageData }) {
  return (
    <div class="card scroll">
      <table id="audit">
        <thead>
          <tr><th>when</th><th>action</th><th>by</th><th>subject</th><th>reason</th></tr>
        </thead>
        <tbody>
          {props.data.audit.map((e) => (
            <tr>
              <td>{when(e.at)}</td>
              <td><code>{e.action}</code></td>
              <td>{e.actor}</td>
              <td>{e.subject ?? '—'}</td>
              <td>{e.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Callbacks(props: { data: RolloutPageData }) {
  const { deliveries } = props.data;
  if (deliveries.length === 0) return <p class="muted card">No callback deliveries for this rollout.</p>;
  return (
    <div class="card scroll">
      <table id="deliveries">
        <thead>
          <tr><th>event</th><th>to</th><th>status</th><th class="num">attempts</th><th>last answer</th></tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr>
              <td><code>{d.type}</code> <span class="muted">{when(d.at)}</span></td>
              <td class="mono">{d.url}</td>
              <td><span class={`badge ${d.status === 'succeeded' ? 'ok' : d.status === 'pending' ? 'warn' : 'bad'}`}>{d.status}</span></td>
              <td class="num">{d.attempts}</td>
              <td>{d.lastStatus ?? ''} {d.lastError ?? ''}{d.status === 'pending' && d.nextAttemptAt !== null ? ` · next ${when(d.nextAttemptAt)}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Everything on the page that changes by itself: replaced in place every few seconds. */
export function RolloutLive(props: { data: RolloutPageData }) {
  const { data } = props;
  const { rollout, health } = data;
  return (
    <section id="rollout-live" data-live={`/rollouts/${encodeURIComponent(rollout.key)}/live`} data-state={rollout.state} data-version={String(rollout.version)}>
      <p>
        <span class={`badge ${stateClass(rollout.state)}`} id="state">{rollout.state}</span> version {rollout.version}
        {rollout.stateReason && <span class="muted"> — {rollout.stateReason}</span>}
        {health.breached && health.breach && <span class="bad"> · breached: {health.breach.reason}</span>}{' '}
        <span class="live-dot" id="live-at"></span>
      </p>
      <StepBar data={data} />
      <h2>Cohorts</h2>
      <Cohorts data={data} />
      <Charts data={data} />
      <h2>Lost messages</h2>
      <Lost data={data} />
      <h2>Differences by field</h2>
      <MismatchFields data={data} />
      <h2>Mismatch samples</h2>
      <Mismatches data={data} />
      <h2>Callbacks</h2>
      <Callbacks data={data} />
      <h2>Audit trail</h2>
      <Audit data={data} />
    </section>
  );
}
