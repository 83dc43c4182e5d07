/**
 * Charts as inline SVG: no script, no library, readable with JavaScript off.
 * Counts are drawn as steps over their buckets (a burst has area, not a
 * hairline), every point carries a dot (a single point is visible), and
 * decisions are marked on the time axis with a `<title>` and listed in text.
 */
import { stamp } from './format.ts';

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** Drawn as a filled step area over each bucket (counts), instead of a line through points (rates). */
  area?: boolean;
  /** Only its non-zero points, as dots without a line (events such as lost messages). */
  sparse?: boolean;
  /** [time ms, value] in time order. */
  points: [number, number][];
}

export interface Marker {
  at: number;
  action: string;
  text: string;
}

const PAD = { left: 52, right: 12, top: 12, bottom: 26 };

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const MARKER_COLOR: Record<string, string> = { 'cohort.reverted': '#cf222e', 'rollout.reverted': '#cf222e', 'guard.breached': '#cf222e', 'rollout.paused': '#9a6700' };

export interface ChartProps {
  title: string;
  from: number;
  to: number;
  series: Series[];
  /** The width of a bucket, for area series (shown on the chart). */
  bucketMs?: number;
  /** A guard's threshold, drawn as a dashed line. */
  threshold?: { value: number; label: string };
  markers?: Marker[];
  format?: (v: number) => string;
  empty?: string;
  /** The drawing's size in SVG units (small multiples use a narrower one, so their text stays legible). */
  size?: { width: number; height: number };
  /** List the markers under the chart (off where a page lists them once for many charts). */
  listMarkers?: boolean;
  /** Attributes of the figure, for tests and styles (`data-cohort`, …). */
  attrs?: Record<string, string>;
}

export function Chart(props: ChartProps) {
  const format = props.format ?? ((v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 100) / 100)));
  const bucket = props.bucketMs ?? 0;
  const { width: W, height: H } = props.size ?? { width: 640, height: 220 };
  const values = props.series.flatMap((s) => s.points.map(([, v]) => v));
  // Room above a guard's line, so it never sits on the top edge; below zero only for values there (a rate under the baseline's).
  const max = niceMax(Math.max(0, (props.threshold?.value ?? 0) * 1.2, ...values));
  const low = Math.min(0, ...values);
  const min = low < 0 ? -niceMax(-low) : 0;
  const x = (t: number) => PAD.left + (Math.min(Math.max(t, props.from), props.to) - props.from) / Math.max(1, props.to - props.from) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - min) / (max - min)) * (H - PAD.top - PAD.bottom);
  const ticks = (min < 0 ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1]).map((f) => min + f * (max - min));
  // A rate at zero is a figure (drawn); counts of zero are no traffic.
  const empty = props.series.every((s) => s.points.every(([, v]) => v === 0) && (s.area === true || s.sparse === true || s.points.length === 0));
  const markers = (props.markers ?? []).filter((m) => m.at >= props.from && m.at <= props.to);
  const stepPath = (points: [number, number][]) => {
    const d = points.map(([t, v]) => `M${x(t).toFixed(1)},${y(0)}V${y(v).toFixed(1)}H${x(t + bucket).toFixed(1)}V${y(0)}`).join('');
    return d;
  };
  return (
    <figure class="chart card" style="margin:0" {...(props.attrs ?? {})}>
      <figcaption>
        <strong>{props.title}</strong>
        {bucket > 0 && <span class="muted bucket"> · bucket {bucket / 1000} s</span>}
        <div class="legend">
          {props.series.map((s) => (
            <span>
              <i class={s.dashed ? 'dashed' : undefined} style={`border-color:${s.color}`}></i>
              {s.name}
            </span>
          ))}
          {props.threshold && (
            <span>
              <i class="dashed" style="border-color:#cf222e"></i>
              {props.threshold.label}
            </span>
          )}
        </div>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        {min < 0 && <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} stroke="#8c959f" />}
        {ticks.map((v) => (
          <g>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} stroke="#e5e7eb" />
            <text x={PAD.left - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#5b6570">
              {format(v)}
            </text>
          </g>
        ))}
        <text x={PAD.left} y={H - 6} font-size="11" fill="#5b6570">
          {stamp(props.from)}
        </text>
        <text x={W - PAD.right} y={H - 6} font-size="11" fill="#5b6570" text-anchor="end">
          {stamp(props.to)}
        </text>
        {empty && (
          <text x={W / 2} y={PAD.top + 24} text-anchor="middle" font-size="13" fill="#5b6570">
            {props.empty ?? 'no traffic in this window yet'}
          </text>
        )}
        {props.threshold && (
          <line class="threshold" x1={PAD.left} x2={W - PAD.right} y1={y(props.threshold.value)} y2={y(props.threshold.value)} stroke="#cf222e" stroke-dasharray="6 4">
            <title>{`${props.threshold.label}: ${format(props.threshold.value)}`}</title>
          </line>
        )}
        {props.series.map((s) => {
          const shown = s.points.filter(([, v]) => v !== 0 || !(s.area || s.sparse));
          const total = String(s.points.reduce((n, [, v]) => n + v, 0));
          if (shown.length === 0) return <g data-series={s.name} data-total={total} />;
          if (s.area) {
            return <path data-series={s.name} data-total={total} d={stepPath(shown)} fill={s.dashed ? 'none' : s.color} fill-opacity="0.25" stroke={s.color} stroke-width="1.5" stroke-dasharray={s.dashed ? '4 3' : undefined} />;
          }
          return (
            <g data-series={s.name} data-last={String(shown.at(-1)![1])} data-total={total}>
              {shown.length > 1 && !s.sparse && <polyline fill="none" stroke={s.color} stroke-width="2" stroke-dasharray={s.dashed ? '5 4' : undefined} points={shown.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />}
              {shown.map(([t, v]) => (
                <circle class="point" cx={x(t).toFixed(1)} cy={y(v).toFixed(1)} r={W < 500 ? '3.5' : '4.5'} fill={s.color} stroke="#fff" stroke-width="1">
                  <title>{`${s.name} ${format(v)} at ${stamp(t)}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
        {markers.map((m) => (
          <g class="marker" data-action={m.action}>
            <line x1={x(m.at)} x2={x(m.at)} y1={PAD.top} y2={H - PAD.bottom} stroke={MARKER_COLOR[m.action] ?? '#0969da'} stroke-width="1.5" stroke-dasharray="2 3" />
            <path d={`M${x(m.at) - 5},${H - PAD.bottom + 1}h10l-5,-7z`} fill={MARKER_COLOR[m.action] ?? '#0969da'}>
              <title>{`${stamp(m.at)} ${m.action}: ${m.text}`}</title>
            </path>
          </g>
        ))}
      </svg>
      {markers.length > 0 && props.listMarkers !== false && (
        <ul class="markers muted" style="font-size:.8rem;margin:.3rem 0 0;padding-left:1.1rem">
          {markers.map((m) => (
            <li>
              {stamp(m.at)} <code>{m.action}</code> {m.text}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
