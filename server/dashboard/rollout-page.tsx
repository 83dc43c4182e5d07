/** One rollout: its plan, cohorts against their guards, charts, lost messages, diffs, audit and callbacks. */
import { CohortCharts } from './cohort-charts.tsx';
import { Cohorts, HealthLine } from './health-section.tsx';
import { num, stateClass, when } from './format.ts';
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
              <td>{when(m.receivedAt, props.data.now)}</td>
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
              <td>{when(s.at, props.data.now)}</td>
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
              <td>{when(e.at, props.data.now)}</td>
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
              <td><code>{d.type}</code> <span class="muted">{when(d.at, props.data.now)}</span></td>
              <td class="mono">{d.url}</td>
              <td><span class={`badge ${d.status === 'succeeded' ? 'ok' : d.status === 'pending' ? 'warn' : 'bad'}`}>{d.status}</span></td>
              <td class="num">{d.attempts}</td>
              <td>{d.lastStatus ?? ''} {d.lastError ?? ''}{d.status === 'pending' && d.nextAttemptAt !== null ? ` · next ${when(d.nextAttemptAt, props.data.now)}` : ''}</td>
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
  const { rollout } = data;
  return (
    <section id="rollout-live" data-live={`/rollouts/${encodeURIComponent(rollout.key)}/live`} data-state={rollout.state} data-version={String(rollout.version)}>
      <p>
        <span class={`badge ${stateClass(rollout.state)}`} id="state">{rollout.state}</span> version {rollout.version}
        {rollout.stateReason && <span class="muted"> — {rollout.stateReason}</span>}
{' '}
        <span class="live-dot" id="live-at"></span>
      </p>
      <HealthLine data={data} />
      <StepBar data={data} />
      <h2>Cohorts</h2>
      <Cohorts data={data} />
      <h2>Over time</h2>
      <CohortCharts data={data} />
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
