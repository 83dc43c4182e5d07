/**
 * One status per cohort and per rollout, from figures already measured: the
 * API (list, item, /health), the dashboard, the CLI and /metrics all show
 * what this returns. A rollout takes its cohorts' worst status, in the order
 * breached > reverted > degraded > idle > healthy: a breach is news to act
 * on now, a revert is a decision already taken, degraded means the figures
 * cannot be fully trusted, idle that there are too few of them to judge.
 */
import { hasShadowBand, type Cohort, type Rollout } from '../rollouts/model.ts';
import type { CohortHealth } from './measure.ts';
import { fmt, pct, type Verdict } from './guards.ts';

export const HEALTH_STATUSES = ['healthy', 'breached', 'reverted', 'degraded', 'idle'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export interface Health {
  status: HealthStatus;
  reason: string;
}

const RANK: Record<HealthStatus, number> = { breached: 4, reverted: 3, degraded: 2, idle: 1, healthy: 0 };

export interface StatusInput {
  rollout: Pick<Rollout, 'state' | 'stateReason' | 'plan' | 'step' | 'guards'>;
  cohorts: Cohort[];
  measured: CohortHealth[];
  /** What the guards judge now (see measure.ts `watchOf`). */
  watch: 'steps' | 'completed' | 'none';
  /** Lost messages of the whole ledger not replayed yet. */
  replayPending: number;
  /** Why reporters were declared gone, or null. */
  reportersGone: string | null;
}

/**
 * The verdict nearest its threshold, when one is worse than tolerated: what
 * it says and roughly how many more messages at the rates seen it needs.
 */
export function judgingNote(verdicts: readonly Verdict[]): string {
  const progress = (v: Verdict) => Math.log(Math.max(v.evidence, 1)) / Math.log(v.needed);
  const pending = verdicts.filter((v) => v.more !== null && !v.breached).sort((a, b) => progress(b) - progress(a));
  const v = pending[0];
  if (v === undefined) return '';
  const seen = v.guard === 'latency' ? `p95 ×${(v.estimate ?? 0).toFixed(2)} vs tolerated ×${v.tolerance}` : `${pct(v.estimate ?? 0)} vs tolerated ${pct(v.tolerated)}`;
  return `; judging ${v.guard}: ${seen}, evidence ${fmt(v.evidence)} of the ${fmt(v.needed)} a breach needs, about ${v.more} more messages at this rate`;
}

function revertedReason(row: Cohort): string {
  const by = row.revertKind === 'breach' ? `by a guard (${row.revertedBy ?? 'controller'})` : `by hand (${row.revertedBy ?? 'unknown'})`;
  return `${row.name} reverted ${by}: ${row.revertReason ?? 'no reason given'}`;
}

/** The sample a cohort is judged on, and how large it must be. */
function sampleOf(c: CohortHealth, row: Cohort | undefined, input: StatusInput): { n: number; needed: number; what: string } {
  const { rollout } = input;
  const step = rollout.plan[row?.step ?? rollout.step ?? -1];
  const needed = Math.max(rollout.guards.minSample, row !== undefined || c.kind === 'shadow' ? (step?.minMessages ?? 0) : 0);
  if (c.kind === 'shadow') return { n: c.compared, needed, what: `compared (${c.skipped} skipped)` };
  if (c.kind === 'baseline') return { n: c.processed + c.failed, needed, what: 'settled messages' };
  return { n: c.due, needed, what: 'due messages' };
}

export function cohortStatus(c: CohortHealth, row: Cohort | undefined, input: StatusInput): Health {
  if (row?.status === 'reverted' && input.watch !== 'completed') return { status: 'reverted', reason: revertedReason(row) };
  const breach = c.breaches[0];
  if (breach !== undefined) {
    const when = input.watch === 'completed' ? ' after completion' : '';
    return { status: 'breached', reason: `${c.name}: guard ${breach.guard} breached${when}: ${breach.reason}` };
  }
  if (c.pending > 0) return { status: 'degraded', reason: `${c.name}: ${c.pending} lost messages waiting for replay` };
  if (c.skipped > c.compared) return { status: 'degraded', reason: `${c.name}: comparisons mostly skipped (${c.skipped} skipped, ${c.compared} compared)` };
  const { n, needed, what } = sampleOf(c, row, input);
  const judging = judgingNote(c.verdicts);
  if (n < needed) return { status: 'idle', reason: `${c.name}: ${n} of ${needed} ${what}; ${needed - n} more before it is called healthy (a guard acts sooner on strong evidence)${judging}` };
  return { status: 'healthy', reason: `${c.name}: no guard breached over ${n} ${what}${judging}` };
}

/** The cohorts whose status makes the rollout's: the bands, the shadow cohort of a shadow step, and after completion the rest on new. */
function counts(c: CohortHealth, input: StatusInput): boolean {
  if (c.kind === 'band') return true;
  if (c.kind === 'completed') return input.watch === 'completed';
  if (c.kind !== 'shadow' || input.watch !== 'steps') return false;
  return hasShadowBand(input.rollout);
}

function worst(list: Health[]): Health | undefined {
  const top = Math.max(...list.map((h) => RANK[h.status]));
  const same = list.filter((h) => RANK[h.status] === top);
  return same.length === 0 ? undefined : { status: same[0]!.status, reason: same.map((h) => h.reason).join('; ') };
}

export function healthStatus(input: StatusInput): { health: Health; cohorts: Map<string, Health> } {
  const { rollout } = input;
  const rows = new Map(input.cohorts.map((c) => [c.name, c]));
  const cohorts = new Map(input.measured.map((c) => [c.name, cohortStatus(c, rows.get(c.name), input)]));
  const health = ((): Health => {
    if (rollout.state === 'draft') return { status: 'idle', reason: 'not started: every partner is on old' };
    if (rollout.state === 'reverted') {
      const byGuard = input.cohorts.filter((c) => c.revertKind === 'breach' && c.status === 'reverted');
      return { status: 'reverted', reason: `the whole rollout was reverted: ${rollout.stateReason ?? (byGuard.length > 0 ? revertedReason(byGuard[0]!) : 'no reason given')}` };
    }
    const relevant = input.measured.filter((c) => counts(c, input)).map((c) => cohorts.get(c.name)!);
    if (input.replayPending > 0) relevant.push({ status: 'degraded', reason: `${input.replayPending} lost messages waiting for replay` });
    if (input.reportersGone !== null) relevant.push({ status: 'degraded', reason: input.reportersGone });
    if (input.watch === 'none') {
      // A completed rollout past its watch is no longer judged: saying healthy would claim more than is known.
      const base = rollout.state === 'completed' ? 'completed: every partner is on new; the watch after completion is over' : `not judged while ${rollout.state}`;
      return worst(relevant.filter((h) => h.status === 'degraded')) ?? { status: 'idle', reason: base };
    }
    if (relevant.length === 0) return { status: 'idle', reason: 'nobody is on the new path at this step yet' };
    return worst(relevant)!;
  })();
  return { health, cohorts };
}
