/** A rollout page's health: the one status and the cohorts against their guards (the charts are in cohort-charts.tsx). */
import { fmt } from '../health/guards.ts';
import { band, colorOf, HEALTH_CLASS, liveText, num, pct, when } from './format.ts';
import type { RolloutPageData } from './read-model.ts';

export function HealthLine(props: { data: RolloutPageData }) {
  const { health, rollout } = props.data;
  return (
    <p id="health" data-health={health.health.status}>
      <span class={`badge ${HEALTH_CLASS[health.health.status]}`}>{health.health.status}</span> <span class="reason">{health.health.reason}</span>
      <br />
      <span class="muted">
        live <strong data-effective-live={String(rollout.effectiveLive)}>{liveText(rollout.live, rollout.effectiveLive)}</strong>
        {rollout.shadow !== null && `, shadow ${rollout.effectiveShadow}% of partners`}
      </span>
    </p>
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

type Verdicts = RolloutPageData['health']['cohorts'][number]['verdicts'];

/** The verdict nearest its threshold: its evidence against the 1/α it needs, the others in the title. */
function Evidence(props: { verdicts: Verdicts }) {
  if (props.verdicts.length === 0) return <span class="muted">—</span>;
  const progress = (v: Verdicts[number]) => Math.log(Math.max(v.evidence, 1)) / Math.log(v.needed);
  const top = [...props.verdicts].sort((a, b) => progress(b) - progress(a))[0]!;
  const title = props.verdicts.map((v) => `${v.guard}: evidence ${fmt(v.evidence)} of ${fmt(v.needed)}${v.more === null ? '' : `, about ${v.more} more messages`}`).join('; ');
  return (
    <span class={top.breached ? 'bad' : 'muted'} title={title} data-guard={top.guard}>
      {top.guard} {fmt(top.evidence)} / {fmt(top.needed)}
      {!top.breached && top.more !== null && <span> · ~{num(top.more)} more</span>}
    </span>
  );
}

export function Cohorts(props: { data: RolloutPageData }) {
  const { health, rollout, now } = props.data;
  const t = health.thresholds;
  const rows = new Map(rollout.cohorts.map((c) => [c.name, c]));
  return (
    <div class="card scroll">
      <table id="cohorts">
        <thead>
          <tr>
            <th>cohort</th>
            <th>band</th>
            <th>health</th>
            <th class="num">received</th>
            <th class="num">processed</th>
            <th class="num">failed</th>
            <th class="num">lost</th>
            <th class="num">compared</th>
            <th class="num">skipped</th>
            <th class="num">mismatched</th>
            <th class="num">loss</th>
            <th class="num">failure Δ</th>
            <th class="num">mismatch</th>
            <th>evidence</th>
          </tr>
        </thead>
        <tbody>
          {health.cohorts.map((c) => {
            const row = rows.get(c.name);
            return (
              <tr data-cohort={c.name} data-status={c.status ?? ''} data-health={c.health?.status ?? ''}>
                <td>
                  <strong style={`color:${colorOf(c.name)}`}>{c.name}</strong>
                </td>
                <td>{c.band === null ? <span class="muted">{c.kind}</span> : <span class="mono">{band(c.band.from, c.band.to)}</span>}</td>
                <td style="min-width:14rem">
                  {c.health && <span class={`badge ${HEALTH_CLASS[c.health.status]}`}>{c.health.status}</span>}
                  {c.health && c.health.status !== 'healthy' && <div class="muted" style="font-size:.8rem">{c.health.reason}</div>}
                  {row?.status === 'reverted' && row.revertedAt !== null && <div class="muted" style="font-size:.8rem">figures up to its revert, {when(row.revertedAt, now)}</div>}
                </td>
                <td class="num">{num(c.received)}</td>
                <td class="num">{num(c.processed)}</td>
                <td class="num">{num(c.failed)}</td>
                <td class="num">{num(c.lost)}</td>
                <td class="num">{num(c.compared)}</td>
                <td class={`num ${c.skipped > c.compared ? 'warn' : ''}`}>{num(c.skipped)}</td>
                <td class="num">{num(c.mismatched)}</td>
                <td class="num"><Rate value={c.rates.loss} max={t.maxLossRate} /></td>
                <td class="num"><Rate value={c.rates.failureDelta} max={t.maxFailureRateDelta} /></td>
                <td class="num"><Rate value={c.rates.mismatch} max={t.maxMismatchRate} /></td>
                <td class="evidence"><Evidence verdicts={c.verdicts} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted" style="font-size:.8rem;margin:.4rem 0 0">
        Since {health.window.from.slice(11, 19)}Z (window {health.window.epoch + 1} of this step, at most {health.window.seconds} s). Tolerances: loss ≤ {pct(t.maxLossRate)}, failure ≤ baseline + {pct(t.maxFailureRateDelta)}, mismatch ≤ {pct(t.maxMismatchRate)} beyond noise, latency p95 ≤ {t.maxLatencyRatio ? `${t.maxLatencyRatio}×` : 'off'} the old path's; each judged by an anytime-valid test that breaches when its evidence reaches 1/α (α {t.alpha ?? 0.001} per cohort and step). Healthy from {t.minSample} messages (a shadow step counts those compared, not skipped); a message is due after {health.dueSeconds} s (grace {t.graceSeconds} s).
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
