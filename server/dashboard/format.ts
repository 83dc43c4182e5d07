/** Small formatting helpers shared by the dashboard's pages. */
import { iso } from '../clock.ts';
import type { HealthStatus } from '../health/status.ts';

export const pct = (value: number | null | undefined, digits = 2) => (value === null || value === undefined ? '—' : `${(value * 100).toFixed(digits)}%`);
export const num = (value: number) => value.toLocaleString('en-US');

/** The one time format of the dashboard: UTC, ISO order, to the second (`2026-11-25 21:17:38Z`). */
export const stamp = (at: string | number | null) => (at === null ? '—' : `${(typeof at === 'number' ? iso(at) : at).replace('T', ' ').slice(0, 19)}Z`);

/** How long ago (or how soon) `at` is from `now`, in the largest whole unit. */
export function age(at: string | number, now: number): string {
  const ms = now - (typeof at === 'number' ? at : Date.parse(at));
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86_400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86_400)} d`;
  return ms >= 0 ? `${text} ago` : `in ${text}`;
}

/** A time to show: the UTC stamp with its age beside it. */
export const when = (at: string | number | null, now: number) => (at === null ? '—' : `${stamp(at)} (${age(at, now)})`);

export const band = (from: number, to: number) => `${(from / 100).toFixed(2).replace(/\.?0+$/, '')}–${(to / 100).toFixed(2).replace(/\.?0+$/, '')}%`;

/** A stable colour per cohort name. */
const PALETTE = ['#8250df', '#0969da', '#1a7f37', '#bf3989', '#9a6700', '#cf222e', '#1b7c83', '#6639ba', '#953800', '#0550ae'];
export function colorOf(cohort: string): string {
  if (cohort === 'baseline') return '#57606a';
  if (cohort === 'shadow') return '#d4a72c';
  const n = Number(cohort.slice(1));
  return Number.isInteger(n) && n > 0 ? PALETTE[(n - 1) % PALETTE.length]! : '#6e7781';
}

/** The state as a badge class. */
export function stateClass(state: string): string {
  return state === 'running' || state === 'completed' ? 'ok' : state === 'reverted' ? 'bad' : state === 'paused' ? 'warn' : 'muted';
}

/** A health status as a badge class. */
export const HEALTH_CLASS: Record<HealthStatus, string> = { healthy: 'ok', breached: 'bad', reverted: 'bad', degraded: 'warn', idle: 'muted' };

/** The share really on new beside the step's, when they differ. */
export const liveText = (live: number, effectiveLive: number) => (live === effectiveLive ? `${live}%` : `${effectiveLive}% on new (step: ${live}%)`);
