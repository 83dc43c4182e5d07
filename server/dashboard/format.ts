/** Small formatting helpers shared by the dashboard's pages. */
import { iso } from '../clock.ts';

export const pct = (value: number | null | undefined, digits = 2) => (value === null || value === undefined ? '—' : `${(value * 100).toFixed(digits)}%`);
export const num = (value: number) => value.toLocaleString('en-US');
/** A time to show: epoch ms or an ISO string, to the second. */
export const when = (at: string | number | null) => (at === null ? '—' : (typeof at === 'number' ? iso(at) : at).replace('T', ' ').slice(0, 19));
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
