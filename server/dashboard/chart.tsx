/** Line charts as inline SVG: no script, no library, readable with JavaScript off. */
import { iso } from '../clock.ts';

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** [time ms, value] in time order. */
  points: [number, number][];
}

const W = 640;
const H = 220;
const PAD = { left: 52, right: 12, top: 12, bottom: 26 };

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const clock = (ms: number) => iso(ms).slice(11, 19);

export function LineChart(props: { title: string; from: number; to: number; series: Series[]; format?: (v: number) => string; empty?: string }) {
  const format = props.format ?? ((v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 100) / 100)));
  const max = niceMax(Math.max(0, ...props.series.flatMap((s) => s.points.map(([, v]) => v))));
  const x = (t: number) => PAD.left + ((t - props.from) / Math.max(1, props.to - props.from)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const empty = props.series.every((s) => s.points.length === 0);
  return (
    <figure class="chart card" style="margin:0">
      <figcaption>
        <strong>{props.title}</strong>
        <div class="legend">
          {props.series.map((s) => (
            <span>
              <i class={s.dashed ? 'dashed' : undefined} style={`border-color:${s.color}`}></i>
              {s.name}
            </span>
          ))}
        </div>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        {ticks.map((v) => (
          <g>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} stroke="#e5e7eb" />
            <text x={PAD.left - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#5b6570">
              {format(v)}
            </text>
          </g>
        ))}
        <text x={PAD.left} y={H - 6} font-size="11" fill="#5b6570">
          {clock(props.from)}
        </text>
        <text x={W - PAD.right} y={H - 6} font-size="11" fill="#5b6570" text-anchor="end">
          {clock(props.to)} UTC
        </text>
        {empty && (
          <text x={W / 2} y={H / 2} text-anchor="middle" font-size="13" fill="#5b6570">
            {props.empty ?? 'no traffic in this window yet'}
          </text>
        )}
        {props.series.map((s) =>
          s.points.length === 0 ? null : (
            <polyline
              data-series={s.name}
              fill="none"
              stroke={s.color}
              stroke-width="2"
              stroke-dasharray={s.dashed ? '5 4' : undefined}
              points={s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
            />
          ),
        )}
      </svg>
    </figure>
  );
}
