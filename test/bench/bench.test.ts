import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.ts';

// The benchmarks must never rot: the quick mode runs in every `npm test` and must
// produce every figure it claims. (It asserts that they were measured, not how fast:
// timings on a shared machine belong in `npm run bench`, not in pass/fail.)
describe('npm run bench --quick', () => {
  it('measures every figure it reports and writes the JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-'));
    const out = join(dir, 'bench.json');
    try {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/bench/index.ts', '--quick'], {
        cwd: ROOT,
        env: { ...process.env, ROLLCALL_BENCH_OUT: out },
        encoding: 'utf8',
        timeout: 240_000,
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/path_ns\s+[\d.]+ ns\/call/);
      const figures = JSON.parse(readFileSync(out, 'utf8'));
      for (const key of ['path_ns', 'unleash_ns', 'growthbook_ns', 'run_overhead_ns', 'shadow_p99_ratio', 'ingest_msgs_per_s', 'revert_p99_ms', 'sdk_mem_mb', 'server_rss_mb', 'dashboard_ms', 'sdk_packed_kb', 'sdk_packages', 'sdk_import_ms', 'unleash_import_ms', 'growthbook_import_ms', 'ofrep_evals_per_s', 'ofrep_p99_ms', 'shadow_cpu_us_equal_1kb', 'shadow_cpu_us_differing_10kb', 'handwritten_cpu_us_equal_10kb', 'stream_bytes_per_change', 'stream_bytes_per_change_few', 'stream_snapshot_bytes_per_change', 'stream_server_rss_mb', 'outage_heap_mb', 'outage_queued_kb', 'catchup_ms', 'catchup_posts', 'ingest_commits_per_s', 'ingest_ungrouped_msgs_per_s', 'ingest_ungrouped_commits_per_s', 'cli_help_ms', 'node_bare_ms']) {
        expect(Number.isFinite(figures[key]) && figures[key] > 0, `${key} = ${figures[key]}`).toBe(true);
      }
      expect(figures.mode).toBe('quick');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 270_000);

  it('--scale measures every scale figure on a real sqld and writes the JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-scale-'));
    const out = join(dir, 'scale.json');
    try {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/bench/index.ts', '--quick', '--scale'], {
        cwd: ROOT,
        env: { ...process.env, ROLLCALL_BENCH_OUT: out },
        encoding: 'utf8',
        timeout: 420_000,
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/ingest_sqld_msgs_per_s \(3\)\s+\d+ msg\/s/);
      const figures = JSON.parse(readFileSync(out, 'utf8'));
      for (const key of ['ingest_embedded_msgs_per_s', 'ingest_sqld_1_msgs_per_s', 'ingest_sqld_3_msgs_per_s', 'revert_embedded_p99_ms', 'revert_sqld_p99_ms', 'tick_embedded_p99_ms', 'tick_sqld_p99_ms', 'ledger_page_ms', 'ledger_health_ms', 'db_bytes_per_million_msgs', 'metrics_scrape_ms', 'ingest_sqld_cpu_ratio', 'tick_growth', 'ledger_page_growth', 'ledger_health_growth', 'tick_embedded_tenth_p99_ms']) {
        expect(Number.isFinite(figures[key]) && figures[key] > 0, `${key} = ${figures[key]}`).toBe(true);
      }
      expect(figures.mode).toBe('quick-scale');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 450_000);
});
