/**
 * `rollcall status [KEY] [--watch]`: every rollout, or one rollout's cohorts
 * with their figures and rates against the guards and its last decisions.
 * `--watch` redraws every second on a terminal and, elsewhere (a log, a pipe),
 * prints a view again only when it changed.
 */
import type { Command } from 'commander';
import { listAll, type ApiClient } from './client.ts';
import { withContext, type Context } from './context.ts';
import { CliError } from './errors.ts';
import { percent, rate, time, type Cell, type Output } from './output.ts';
import { rolloutKeyArgument } from './arguments.ts';
import { VERDICT_STYLE, verdictOf, type RolloutDetail } from './verdict.ts';

const WATCH_INTERVAL_MS = 1000;
const READ_AT_ONCE = 8;

interface HealthCohort {
  name: string;
  kind: string;
  status: string | null;
  band: { from: number; to: number } | null;
  received: number;
  processed: number;
  failed: number;
  lost: number;
  compared: number;
  mismatched: number;
  skipped: number;
  rates: { loss: number | null; failureDelta: number | null; mismatch: number | null };
  breaches: { guard: string }[];
  verdicts?: { guard: string; estimate: number | null; tolerated: number; tolerance: number; sample: number; evidence: number; needed: number; more: number | null; breached: boolean }[];
}

/** An e-value or threshold in a few digits. */
const evidenceText = (x: number) => (x >= 1e6 ? x.toExponential(1) : x >= 100 ? String(Math.round(x)) : x.toFixed(2));

/** One line per judged guard of a cohort: the rate seen against what is tolerated, and the evidence against the threshold. */
function evidenceLines(c: HealthCohort): string[] {
  return (c.verdicts ?? []).map((v) => {
    const seen = v.estimate === null ? '—' : v.guard === 'latency' ? `p95 ×${v.estimate.toFixed(2)}` : rate(v.estimate);
    const tolerated = v.guard === 'latency' ? `×${v.tolerance}` : rate(v.tolerated);
    const verdict = v.breached ? 'BREACHED' : v.more === null ? 'within tolerance' : `about ${v.more} more messages at this rate to decide`;
    return `  ${c.name} ${v.guard}: ${seen} vs ${tolerated} over ${v.sample}; evidence ${evidenceText(v.evidence)} of ${evidenceText(v.needed)} (1/α); ${verdict}`;
  });
}

interface View {
  json: unknown;
  text: string;
}

const stepText = (r: RolloutDetail) => (r.step === null ? '—' : `${r.step + 1} of ${r.plan.length}`);

async function allView(client: ApiClient, out: Output): Promise<View> {
  // The list carries each rollout's status; the item adds its cohorts' figures for --json.
  const items = await listAll<RolloutDetail>(client, '/v1/rollouts');
  const details: RolloutDetail[] = [];
  for (let i = 0; i < items.length; i += READ_AT_ONCE) {
    const batch = items.slice(i, i + READ_AT_ONCE);
    details.push(...(await Promise.all(batch.map((r) => (r.state === 'running' || r.state === 'paused' ? client.request<RolloutDetail>('GET', `/v1/rollouts/${r.key}`) : r)))));
  }
  const rows: Cell[][] = details.map((r) => {
    const verdict = verdictOf(r);
    const live = r.effectiveLive !== undefined && r.effectiveLive !== r.live ? `${percent(r.live)} (${percent(r.effectiveLive)} on new)` : percent(r.live);
    return [r.key, r.state, stepText(r), live, percent(r.shadow), { text: verdict.status, style: VERDICT_STYLE[verdict.status] }, r.version, verdict.reason];
  });
  const text = rows.length === 0 ? 'No rollouts yet: rollcall apply -f rollouts.yaml creates them.' : out.table(['ROLLOUT', 'STATE', 'STEP', 'LIVE', 'SHADOW', 'HEALTH', 'VERSION', 'WHY'], rows);
  return { json: { items: details.map((r) => ({ ...r, verdict: verdictOf(r) })) }, text };
}

function rateCell(value: number | null, threshold: number | undefined, breached: boolean): Cell {
  if (value === null) return '—';
  return { text: `${rate(value)} / ${rate(threshold)}`, style: breached ? 'red' : undefined };
}

async function oneView(client: ApiClient, out: Output, key: string): Promise<View> {
  const [rollout, health, audit] = await Promise.all([
    client.request<RolloutDetail>('GET', `/v1/rollouts/${key}`),
    client.request<{ thresholds: Record<string, number>; dueSeconds?: number; cohorts: HealthCohort[] }>('GET', `/v1/rollouts/${key}/health`),
    client.request<{ items: { at: string; actor: string; action: string; subject: string | null; reason: string | null }[] }>('GET', '/v1/audit', { query: { rollout: key, limit: 5 } }),
  ]);
  const verdict = verdictOf(rollout);
  const g = health.thresholds;
  const cohortRows: Cell[][] = health.cohorts.map((c) => {
    const breached = (guard: string) => c.breaches.some((b) => b.guard === guard);
    return [
      c.name,
      c.status ?? '—',
      c.band === null ? '—' : `${c.band.from}–${c.band.to}`,
      c.received,
      c.processed,
      c.failed,
      { text: String(c.lost), style: c.lost > 0 ? 'yellow' : undefined },
      c.compared,
      c.mismatched,
      { text: String(c.skipped), style: c.skipped > c.compared ? 'yellow' : undefined },
      rateCell(c.rates.loss, g.maxLossRate, breached('loss')),
      rateCell(c.rates.failureDelta, g.maxFailureRateDelta, breached('failure')),
      rateCell(c.rates.mismatch, g.maxMismatchRate, breached('mismatch')),
    ];
  });
  const decisions: Cell[][] = audit.items.map((a) => [time(a.at), a.actor, a.action, a.subject, a.reason]);
  const text = [
    `${out.paint('bold', rollout.key)}  ${rollout.state}  step ${stepText(rollout)}  live ${percent(rollout.live)}  shadow ${percent(rollout.shadow)}  version ${rollout.version}`,
    `health: ${out.paint(VERDICT_STYLE[verdict.status], verdict.status)} (${verdict.reason})`,
    ...(rollout.description === '' ? [] : [rollout.description]),
    `guards: loss ≤ ${rate(g.maxLossRate)}, failure Δ ≤ ${rate(g.maxFailureRateDelta)}, mismatch ≤ ${rate(g.maxMismatchRate)}, latency p95 ≤ ${g.maxLatencyRatio ? `×${g.maxLatencyRatio}` : 'off'}, alpha ${g.alpha ?? 0.001}, min sample ${g.minSample}, due after ${health.dueSeconds ?? g.graceSeconds} s (grace ${g.graceSeconds} s), window ${g.windowSeconds} s; onBreach ${rollout.onBreach}, autoAdvance ${rollout.autoAdvance ? 'on' : 'off'}`,
    '',
    out.table(['COHORT', 'STATUS', 'BAND (bp)', 'RECEIVED', 'PROCESSED', 'FAILED', 'LOST', 'COMPARED', 'MISMATCHED', 'SKIPPED', 'LOSS / MAX', 'FAILURE Δ / MAX', 'MISMATCH / MAX'], cohortRows),
    '',
    'Evidence (each guard is judged by an anytime-valid test: a breach needs the evidence to reach 1/α):',
    ...((lines) => (lines.length === 0 ? ['  no cohort is judged now'] : lines))(health.cohorts.flatMap(evidenceLines)),
    '',
    'Last decisions:',
    decisions.length === 0 ? '  none' : out.table(['AT', 'ACTOR', 'ACTION', 'SUBJECT', 'REASON'], decisions),
  ].join('\n');
  return { json: { rollout, verdict, health, audit }, text };
}

async function watch(ctx: Context, render: () => Promise<View>): Promise<never> {
  let last: string | undefined;
  for (;;) {
    let view: View;
    try {
      view = await render();
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      view = { json: error.body, text: `rollcall: ${error.message} (retrying)` };
    }
    if (ctx.out.isTerminal && !ctx.out.json) {
      // Home and clear, then the view: one redraw a second, whether it changed or not.
      process.stdout.write(`\x1b[H\x1b[2J${view.text}\n\n${ctx.out.paint('dim', `${new Date().toISOString()} · every ${WATCH_INTERVAL_MS / 1000} s · Ctrl-C to stop`)}\n`);
    } else if (view.text !== last) {
      // Judged on the text, which leaves out what changes every second (the health window).
      if (ctx.out.json) process.stdout.write(`${JSON.stringify(view.json)}\n`);
      else process.stdout.write(`${last === undefined ? '' : '\n'}# ${new Date().toISOString()}\n${view.text}\n`);
    }
    last = view.text;
    await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
  }
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('all rollouts, or one rollout: cohorts, figures, rates against the guards, last decisions')
    .argument('[key]', 'a rollout key', rolloutKeyArgument)
    .option('-w, --watch', 'redraw every second (on a terminal), or print each change (elsewhere; with --json, one line per change)')
    .action(
      withContext(async (ctx, key: string | undefined, options: { watch?: boolean }) => {
        const render = () => (key === undefined ? allView(ctx.client, ctx.out) : oneView(ctx.client, ctx.out, key));
        if (options.watch === true) await watch(ctx, render);
        const view = await render();
        ctx.out.result(view.json, () => view.text);
      }),
    );
}
