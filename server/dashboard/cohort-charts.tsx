/**
 * The rollout page's charts, one row per cohort: its messages per bucket on
 * its own scale (a cohort of 28 a bucket is not drawn beside a baseline of
 * 2,000), then each rate its guards judge, over the window health judged, on
 * a scale that holds the guard's line and the rate both. Every rate point is
 * the rate over the cohort's window up to then, so the last one is the
 * figure in the cohort table (rates.ts).
 */
import { Chart, type Marker, type Series } from './chart.tsx';
import { colorOf, HEALTH_CLASS, num, pct, stamp } from './format.ts';
import type { CohortCharts as CohortChartData, RolloutPageData } from './read-model.ts';
import type { RateName } from './rates.ts';

/** The decisions marked on the charts' time axis. */
const DECISIONS = new Set(['rollout.started', 'rollout.advanced', 'rollout.paused', 'rollout.resumed', 'rollout.completed', 'cohort.reverted', 'rollout.reverted', 'guard.breached']);

type Health = RolloutPageData['health'];
type CohortRow = Health['cohorts'][number];

const RATE: Record<RateName, { title: string; guard: 'loss' | 'failure' | 'mismatch'; threshold: 'maxLossRate' | 'maxFailureRateDelta' | 'maxMismatchRate' }> = {
  loss: { title: 'loss: lost of due messages', guard: 'loss', threshold: 'maxLossRate' },
  failureDelta: { title: "failure rate − baseline's", guard: 'failure', threshold: 'maxFailureRateDelta' },
  mismatch: { title: 'mismatch beyond noise', guard: 'mismatch', threshold: 'maxMismatchRate' },
};

/** The rates charted for a cohort: those its guards judge (mismatch only where it compares). */
function ratesOf(row: CohortRow): RateName[] {
  if (row.kind === 'baseline') return [];
  if (row.kind === 'shadow') return ['mismatch'];
  if (row.kind === 'completed') return ['loss'];
  return row.compared > 0 ? ['loss', 'failureDelta', 'mismatch'] : ['loss', 'failureDelta'];
}

const SMALL = { width: 400, height: 190 };

function CountsChart(props: { c: CohortChartData; from: number; to: number; bucketMs: number; markers: Marker[] }) {
  const { c } = props;
  const color = colorOf(c.name);
  const of = (k: 'received' | 'processed' | 'failed' | 'lost') => c.counts.map((b) => [b.t, b[k]] as [number, number]);
  const series: Series[] = [
    { name: `${c.name} received`, color, area: true, points: of('received') },
    { name: `${c.name} processed`, color, area: true, dashed: true, points: of('processed') },
    { name: `${c.name} failed`, color: '#9a6700', sparse: true, points: of('failed') },
    { name: `${c.name} lost`, color: '#cf222e', sparse: true, points: of('lost') },
  ];
  return <Chart title={`${c.name} messages`} from={props.from} to={props.to} bucketMs={props.bucketMs} series={series} markers={props.markers} listMarkers={false} size={SMALL} format={(v) => (Number.isInteger(v) ? num(v) : '')} attrs={{ 'data-cohort': c.name, 'data-chart': 'counts' }} />;
}

function RateChart(props: { c: CohortChartData; row: CohortRow; rate: RateName; health: Health; from: number; to: number; markers: Marker[] }) {
  const { c, row, rate } = props;
  const spec = RATE[rate];
  const series = c.rates[rate];
  const tolerance = props.health.thresholds[spec.threshold];
  const judged = row.verdicts.some((v) => v.guard === spec.guard);
  const label = judged ? `guard ${spec.threshold} ${pct(tolerance)}` : `${spec.threshold} ${pct(tolerance)} (${row.status === 'reverted' ? 'cohort reverted' : 'not judged now'})`;
  return (
    <Chart
      title={`${c.name} ${spec.title}`}
      from={props.from}
      to={props.to}
      series={[{ name: c.name, color: colorOf(c.name), points: series.points }]}
      threshold={{ value: tolerance, label }}
      markers={props.markers}
      listMarkers={false}
      size={SMALL}
      format={(v) => pct(v, Math.abs(v) < 0.01 && v !== 0 ? 2 : 1)}
      empty={rate === 'loss' ? 'no message due yet' : rate === 'mismatch' ? 'nothing compared yet' : 'nothing settled yet'}
      attrs={{ 'data-cohort': c.name, 'data-chart': rate, 'data-drift': String(series.drift) }}
    />
  );
}

export function CohortCharts(props: { data: RolloutPageData }) {
  const { charts, health, audit } = props.data;
  const markers: Marker[] = audit
    .filter((e) => DECISIONS.has(e.action))
    .map((e) => ({ at: Date.parse(e.at), action: e.action, text: `${e.subject ? `${e.subject} ` : ''}by ${e.actor}${e.reason ? `: ${e.reason}` : ''}` }))
    .reverse();
  const shownMarkers = markers.filter((m) => m.at >= charts.from && m.at <= charts.to);
  const rows = new Map(health.cohorts.map((c) => [c.name, c]));
  return (
    <div id="charts">
      <p class="muted" style="font-size:.8rem;margin:0 0 .5rem">
        Over the window health judges, in buckets of {charts.bucketMs / 1000} s. Each rate point is the rate from the window's start up to then (loss among messages due by then): the last one is the figure in the table. Mismatches exclude those withdrawn as noise.
      </p>
      {shownMarkers.length > 0 && (
        <ul class="markers muted" style="font-size:.8rem;margin:0 0 .5rem;padding-left:1.1rem">
          {shownMarkers.map((m) => (
            <li>
              {stamp(m.at)} <code>{m.action}</code> {m.text}
            </li>
          ))}
        </ul>
      )}
      {charts.cohorts.map((c) => {
        const row = rows.get(c.name)!;
        return (
          <section class="cohort-charts" data-cohort={c.name}>
            <h3 style="margin:.6rem 0 .3rem;font-size:1rem">
              <span style={`color:${colorOf(c.name)}`}>{c.name}</span> {row.health && <span class={`badge ${HEALTH_CLASS[row.health.status]}`}>{row.health.status}</span>}
            </h3>
            <div class="grid small">
              <CountsChart c={c} from={charts.from} to={charts.to} bucketMs={charts.bucketMs} markers={markers} />
              {ratesOf(row).map((rate) => <RateChart c={c} row={row} rate={rate} health={health} from={charts.from} to={charts.to} markers={markers} />)}
            </div>
          </section>
        );
      })}
    </div>
  );
}
