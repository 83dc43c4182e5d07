/**
 * `npm run simulate`: proves the guards' false-revert bound on simulated
 * healthy cohorts and measures how soon injected regressions are reverted,
 * beside the fixed-threshold rule that came before, on the same streams.
 *
 *   npm run simulate -- [--cohorts 10000] [--seconds 300] [--runs 20] [--alpha 0.001] [--seed 1] [--workers 2] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_GUARDS } from '../../server/rollouts/model.ts';
import { binomialInterval, runHealthy, runRegressions } from './run.ts';

const { values } = parseArgs({
  options: {
    cohorts: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '300' },
    runs: { type: 'string', default: '20' },
    alpha: { type: 'string', default: String(DEFAULT_GUARDS.alpha) },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, not ${values[name]}`);
    process.exit(2);
  }
  return n;
};
const cohorts = Math.round(num('cohorts'));
const seconds = Math.round(num('seconds'));
const runs = Math.round(num('runs'));
const alpha = num('alpha');
const seed = Math.round(num('seed'));
const workers = Math.round(num('workers'));
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

console.log(`Healthy cohorts: ${cohorts} × ${seconds} s, alpha ${alpha}, seed ${seed}, ${workers} threads`);
let done = 0;
let shown = 0;
const healthy = await runHealthy({
  cohorts, seconds, seed, workers, guards: { alpha },
  onProgress: (n) => {
    done += n;
    if (done - shown >= cohorts / 10 || done === cohorts) {
      shown = done;
      console.log(`  ${done} of ${cohorts} cohorts (${elapsed()})`);
    }
  },
});
const [lo, hi] = binomialInterval(healthy.falseReverts, cohorts);
const [flo, fhi] = binomialInterval(healthy.fixedFalseReverts, cohorts);
const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
const guardsOf = (r: Record<string, number>) => Object.entries(r).map(([g, n]) => `${g} ${n}`).join(', ') || '—';
console.log('');
console.log('| rule | false reverts | rate (95 % interval) | by guard |');
console.log('|---|---|---|---|');
console.log(`| anytime-valid (alpha ${alpha}) | ${healthy.falseReverts} of ${cohorts} | ${pct(healthy.falseReverts / cohorts)} (${pct(lo)}–${pct(hi)}) | ${guardsOf(healthy.byGuard)} |`);
console.log(`| fixed threshold (before) | ${healthy.fixedFalseReverts} of ${cohorts} | ${pct(healthy.fixedFalseReverts / cohorts)} (${pct(flo)}–${pct(fhi)}) | ${guardsOf(healthy.fixedByGuard)} |`);
const t = healthy.atTolerance;
console.log(`Of these, ${t.cohorts} run at exactly their tolerances (loss, failure over the baseline, mismatch beyond noise): ${t.falseReverts} reverted by the anytime-valid rule, ${t.fixedFalseReverts} by the fixed threshold; below their tolerances: ${healthy.falseReverts - t.falseReverts} and ${healthy.fixedFalseReverts - t.fixedFalseReverts} of ${cohorts - t.cohorts}.`);
for (const e of healthy.examples) console.log(`  ${e}`);
const bound = healthy.falseReverts <= alpha * cohorts || lo <= alpha;
console.log(bound ? `False reverts within alpha × cohorts (${alpha * cohorts}) or its interval.` : `FALSE REVERTS ABOVE ALPHA: ${healthy.falseReverts} > ${alpha * cohorts}`);

console.log('');
console.log(`Regressions at 100 msg/s (900 on the baseline), 50 ms handler, ${runs} runs each (${elapsed()})`);
const median = (xs: number[]) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!);
const max = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
const s = (x: number | null) => (x === null ? '—' : `${x.toFixed(1)} s`);
const results = [0, 60].map((regressionAt) => ({ regressionAt, results: runRegressions({ runs, seed, seconds: regressionAt + 180, regressionAt }) }));
console.log('| regression | target | reverted (fresh step) | median / max s (fresh) | median messages | reverted after 60 s healthy | median / max s | fixed threshold: median s (fresh) |');
console.log('|---|---|---|---|---|---|---|---|');
results[0]!.results.forEach((r, i) => {
  const late = results[1]!.results[i]!;
  console.log(`| ${r.name} | ${r.target ?? '—'} | ${r.seconds.length} of ${r.runs} | ${s(median(r.seconds))} / ${s(max(r.seconds))} | ${median(r.messages) ?? '—'} | ${late.seconds.length} of ${late.runs} | ${s(median(late.seconds))} / ${s(max(late.seconds))} | ${s(median(r.fixedSeconds))} (${r.fixedSeconds.length} of ${r.runs}) |`);
});
console.log(`Times count from the first lost message (loss) or from the regression's start (the rest), to the controller tick that decides; done in ${elapsed()}.`);

const out = values.json ?? process.env.ROLLCALL_SIM_OUT;
if (out !== undefined) writeFileSync(out, JSON.stringify({ cohorts, seconds, alpha, seed, healthy, regressions: results }, null, 2));
process.exit(bound ? 0 : 1);
