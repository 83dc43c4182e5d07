/**
 * The gauges read from the status board (every rollout's shares, state,
 * health, and what health judged of each cohort), written as exposition
 * text here rather than set on prom-client gauges at each scrape. At 1,000
 * rollouts of 11 cohorts those are some 50,000 series: setting and
 * formatting them through prom-client took about 230 ms a scrape. A
 * rollout's lines change only when its board entry does (a controller pass
 * keeps an entry whose figures did not move: health/service.ts `record`),
 * so each rollout's lines are kept, per family, and written again only when
 * what they are made from moved (a fresh judgement that came out the same
 * keeps them too); a scrape joins them.
 *
 * The text is what prom-client writes for the same gauges: `# HELP` and
 * `# TYPE` lines, then one line per series, families apart by a blank line;
 * help and label values escaped as it escapes them (test/server/metrics
 * checks the two agree, and promtool reads the result).
 */
import { HEALTH_STATUSES, type HealthStatus } from '../health/status.ts';
import type { JudgedCohort, RateName } from '../health/view.ts';
import { stepShares, type Rollout } from '../rollouts/model.ts';
import { ROLLOUT_STATES } from '@rollcall/protocol';

/** A rollout as /metrics shows it: its status and effective live share from the board, and what health judged. */
export interface RolloutStatusFigures {
  rollout: string;
  status: HealthStatus;
  effectiveLive: number;
  /** The rollout as the share gauges need it. */
  row: Pick<Rollout, 'key' | 'state' | 'plan' | 'step' | 'version'>;
  /** What health judged of each cohort over its window, and the tolerances (absent: no gauges of them). */
  cohorts?: JudgedCohort[];
  tolerances?: Record<RateName, number>;
}

/** The guards' names for the rates health judges (`failure` is the failure rate over the baseline's). */
export const GUARD_OF: Record<RateName, string> = { loss: 'loss', failureDelta: 'failure', mismatch: 'mismatch' };
const RATES = Object.entries(GUARD_OF) as [RateName, string][];

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string) => escapeHelp(text).replace(/"/g, '\\"');
const value = (n: number) => (Number.isNaN(n) ? 'Nan' : n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n));

interface Family {
  name: string;
  help: string;
  /** This rollout's lines of the family, each ending in a newline. */
  lines(status: RolloutStatusFigures, rollout: string, cohortLabel: (cohort: string) => string): string;
}

function liveOf(row: RolloutStatusFigures['row']): number {
  const shares = stepShares(row);
  return row.state === 'completed' ? 10_000 : row.state === 'draft' || row.state === 'reverted' ? 0 : Math.round((shares.live ?? 0) * 100);
}

/** One family per gauge, in the order a scrape has always listed them. */
const FAMILIES: Family[] = [
  { name: 'rollcall_rollout_live_basis_points', help: 'Live share of the current step, in basis points', lines: (s, r) => `rollcall_rollout_live_basis_points{rollout="${r}"} ${liveOf(s.row)}\n` },
  {
    name: 'rollcall_rollout_shadow_basis_points',
    help: 'Shadow share of the current step, in basis points',
    lines: (s, r) => {
      const shares = stepShares(s.row);
      const shadow = s.row.state === 'running' || s.row.state === 'paused' ? Math.round(Math.max(shares.shadow ?? 0, shares.live ?? 0) * 100) - liveOf(s.row) : 0;
      return `rollcall_rollout_shadow_basis_points{rollout="${r}"} ${shadow}\n`;
    },
  },
  {
    name: 'rollcall_rollout_effective_live_basis_points',
    help: 'Share of the key space really on the new path (reverted cohorts excluded), in basis points',
    lines: (s, r) => `rollcall_rollout_effective_live_basis_points{rollout="${r}"} ${Math.round(s.effectiveLive * 100)}\n`,
  },
  {
    name: 'rollcall_rollout_health',
    help: '1 for the health status each rollout has (healthy, breached, reverted, degraded, idle), 0 for the others',
    lines: (s, r) => HEALTH_STATUSES.map((status) => `rollcall_rollout_health{rollout="${r}",status="${status}"} ${status === s.status ? 1 : 0}\n`).join(''),
  },
  {
    name: 'rollcall_cohort_judged_ratio',
    help: "The rates health judges over the guard window: loss (lost of due), failure (failure rate over the baseline's), mismatch (net of mismatches withdrawn as noise); absent without a denominator",
    lines: (s, r, label) =>
      (s.cohorts ?? [])
        .filter((c) => label(c.name) === c.name)
        .map((c) =>
          RATES.map(([rate, guard]) => {
            const v = c.rates[rate];
            return v === null ? '' : `rollcall_cohort_judged_ratio{rollout="${r}",cohort="${escapeLabel(c.name)}",guard="${guard}"} ${value(v)}\n`;
          }).join(''),
        )
        .join(''),
  },
  {
    name: 'rollcall_guard_tolerance_ratio',
    help: "Each rate guard's tolerance (maxLossRate, maxFailureRateDelta, maxMismatchRate)",
    lines: (s, r) => (s.tolerances === undefined ? '' : RATES.map(([rate, guard]) => `rollcall_guard_tolerance_ratio{rollout="${r}",guard="${guard}"} ${value(s.tolerances![rate])}\n`).join('')),
  },
  ...(
    [
      ['compared', 'Comparisons in the window health judges'],
      ['mismatched', 'Mismatches in the window health judges, net of those withdrawn as noise: what the mismatch guard counts'],
      ['withdrawn', 'Mismatches in the window health judges withdrawn because every field they differ in is learned noise or ignored'],
    ] as const
  ).map(
    ([field, help]): Family => ({
      name: `rollcall_cohort_judged_${field}`,
      help,
      lines: (s, r, label) =>
        (s.cohorts ?? [])
          .filter((c) => label(c.name) === c.name)
          .map((c) => `rollcall_cohort_judged_${field}{rollout="${r}",cohort="${escapeLabel(c.name)}"} ${value(c[field])}\n`)
          .join(''),
    }),
  ),
  {
    name: 'rollcall_rollout_state',
    help: '1 for the state each rollout is in, 0 for the others',
    lines: (s, r) => ROLLOUT_STATES.map((state) => `rollcall_rollout_state{rollout="${r}",state="${state}"} ${state === s.row.state ? 1 : 0}\n`).join(''),
  },
];

const sameRates = (a: Record<RateName, number | null>, b: Record<RateName, number | null>) => a.loss === b.loss && a.failureDelta === b.failureDelta && a.mismatch === b.mismatch;

/** The same figures: the same objects (a kept board entry), or a new judgement that came out the same. */
function sameCohorts(a: RolloutStatusFigures['cohorts'], b: RolloutStatusFigures['cohorts']): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return x.name === y.name && x.compared === y.compared && x.mismatched === y.mismatched && x.withdrawn === y.withdrawn && sameRates(x.rates, y.rates);
  });
}

/** What a rollout's lines are made from: they are written again when any of it moved. */
function sameSource(a: RolloutStatusFigures, b: RolloutStatusFigures): boolean {
  return (
    a.row.version === b.row.version &&
    a.row.state === b.row.state &&
    a.status === b.status &&
    a.effectiveLive === b.effectiveLive &&
    sameCohorts(a.cohorts, b.cohorts) &&
    (a.tolerances === b.tolerances || (a.tolerances !== undefined && b.tolerances !== undefined && sameRates(a.tolerances, b.tolerances)))
  );
}

/** `cohortLabel(rollout, cohort)`: the label a cohort is shown under (capped per rollout; metrics.ts). */
export function createBoardText(cohortLabel: (rollout: string, cohort: string) => string) {
  const kept = new Map<string, { source: RolloutStatusFigures; lines: string[] }>();
  let last = FAMILIES.map((f) => `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} gauge\n`).join('\n');

  return {
    /** The families' text for these rollouts (those not listed have no series). */
    render(statuses: RolloutStatusFigures[]): string {
      const listed = new Set<string>();
      const perFamily: string[][] = FAMILIES.map(() => []);
      for (const s of statuses) {
        listed.add(s.rollout);
        let entry = kept.get(s.rollout);
        if (entry === undefined || !sameSource(entry.source, s)) {
          const r = escapeLabel(s.rollout);
          const label = (cohort: string) => cohortLabel(s.rollout, cohort);
          entry = { source: s, lines: FAMILIES.map((f) => f.lines(s, r, label)) };
          kept.set(s.rollout, entry);
        }
        entry.lines.forEach((text, i) => perFamily[i]!.push(text));
      }
      for (const key of kept.keys()) if (!listed.has(key)) kept.delete(key);
      last = FAMILIES.map((f, i) => `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} gauge\n${perFamily[i]!.join('')}`).join('\n');
      return last;
    },
    /** The last text rendered (kept while storage fails). */
    last: () => last,
  };
}
