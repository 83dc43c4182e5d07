/**
 * The real `rollcall` executable, run as a subprocess against a real server
 * on an ephemeral port over a temporary database file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.ts';
import { Webhook } from 'standardwebhooks';
import { startReceiver } from '../../helpers/receiver.ts';
import { dumpTables } from '../../helpers/test-app.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';
import { BIN, runCli, runInTerminal, spawnCli, type CliRun } from '../../helpers/cli.ts';

/**
 * A test here starts the executable several times, one after another; on a
 * machine shared with other suites one start can take seconds, so each test
 * has more time than the default 20 s. Nothing asserts on how fast it is.
 */
const SUBPROCESS_BUDGET_MS = 180_000;

let live: LiveServer;
let dir: string;
const outputs: CliRun[] = [];

beforeAll(async () => {
  live = await startLiveServer({ tickMs: 100, deps: { callbacks: { allow: loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow } } });
  dir = mkdtempSync(join(tmpdir(), 'rollcall-cli-'));
});
afterAll(async () => {
  await live.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<CliRun> {
  const run = await runCli(args, { env: { ROLLCALL_URL: live.url, ROLLCALL_KEY: live.adminKey, ...options.env }, input: options.input });
  outputs.push(run);
  return run;
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The tables a rollouts file can change, and the audit log that records every change. */
async function dump() {
  const tables = await dumpTables(live.database);
  return { rollouts: tables.rollouts, cohorts: tables.cohorts, audit: tables.audit_log };
}

const api = (method: string, path: string, body?: unknown) => live.api(method, path, body);

const PLAN_FILE = `rollouts:
  - key: cli-hooks
    description: webhook handler rewrite
    plan:
      - { live: 0, shadow: 10 }
      - { live: 5 }
      - { live: 25 }
      - { live: 100 }
    guards:
      maxLossRate: 0.002
    compare:
      ignore: ['$.meta.requestId']
      unorderedArrays: true
  - key: cli-queue
    plan: [{ live: 10 }, { live: 50 }]
    onBreach: pause
`;

describe('rollcall apply', { timeout: SUBPROCESS_BUDGET_MS }, () => {
  it('creates drafts, changes nothing the second time, and prints a diff first', async () => {
    const path = file('rollouts.yaml', PLAN_FILE);
    const first = await cli(['apply', '-f', path]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('+ cli-hooks: create as a draft');
    expect(first.stdout).toContain('Applied');
    const hooks = (await api('GET', '/v1/rollouts/cli-hooks')).body;
    expect(hooks).toMatchObject({ state: 'draft', description: 'webhook handler rewrite', plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }, { live: 100 }] });
    expect(hooks.guards.maxLossRate).toBe(0.002);
    expect(hooks.compare).toEqual({ ignore: ['$.meta.requestId'], unorderedArrays: true });
    expect((await api('GET', '/v1/rollouts/cli-queue')).body).toMatchObject({ state: 'draft', onBreach: 'pause' });

    const before = await dump();
    const again = await cli(['apply', '-f', path]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('= cli-hooks (draft, version 1): unchanged');
    expect(again.stdout).toContain('Nothing to change');
    expect(await dump()).toEqual(before);
  });

  it('--dry-run prints the changes and sends none', async () => {
    const before = await dump();
    const changed = PLAN_FILE.replace('webhook handler rewrite', 'the rewrite, staged').replace('{ live: 25 }', '{ live: 30 }').replace("ignore: ['$.meta.requestId']", "ignore: ['$.meta.requestId', '$.handledAt']");
    const run = await cli(['apply', '--dry-run', '-f', file('dry.yaml', changed)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('description: "webhook handler rewrite" → "the rewrite, staged"');
    expect(run.stdout).toContain('plan[2].live: 25 → 30');
    expect(run.stdout).toContain('compare.ignore[1]');
    expect(run.stdout).toContain('Dry run');
    expect(await dump()).toEqual(before);
  });

  it('names the file, line and field of a typo, a decreasing plan and a bad indent, and changes nothing', async () => {
    const before = await dump();
    const typo = file('typo.yaml', PLAN_FILE.replace('    guards:', '    gaurds:'));
    const decreasing = file('decreasing.yaml', PLAN_FILE.replace('{ live: 25 }', '{ live: 3 }'));
    const indent = file('indent.yaml', PLAN_FILE.replace('    onBreach: pause', '   onBreach: pause'));
    const [a, b, c] = await Promise.all([cli(['apply', '-f', typo]), cli(['apply', '-f', decreasing]), cli(['apply', '-f', indent])]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`${typo}:9:5: cli-hooks gaurds: unknown field`);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${decreasing}:7:17: cli-hooks plan[2].live: live never decreases along a plan (step 2 has 5)`);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(new RegExp(`${indent}:16:\\d+: `));
    expect(await dump()).toEqual(before);
  });

  it('leaves every rollout of the file untouched when the server would refuse one change', async () => {
    expect((await api('POST', '/v1/rollouts/cli-queue/start')).status).toBe(200);
    const before = await dump();
    const refused = `rollouts:
  - key: cli-hooks
    description: changed in the same file
    plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }, { live: 100 }]
  - key: cli-queue
    salt: a-new-salt
    plan: [{ live: 20 }, { live: 50 }]
  - key: cli-brand-new
    plan: [{ live: 1 }]
`;
    const run = await cli(['apply', '-f', file('refused.yaml', refused)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cli-queue salt: the salt places every partner');
    expect(run.stderr).toContain('cli-queue plan[0]: steps 1 to 1 have been entered');
    expect(run.stderr).toContain('nothing from');
    expect(await dump()).toEqual(before);
    expect((await api('GET', '/v1/rollouts/cli-brand-new')).status).toBe(404);

    const json = await cli(['--json', 'apply', '-f', file('refused.yaml', refused)]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'refused', details: { rollouts: [{ key: 'cli-hooks', action: 'patch' }, { key: 'cli-queue', refusals: [{ field: 'salt' }, { field: 'plan[0]' }] }, { key: 'cli-brand-new', action: 'create' }] } });
  });

  it('exports in the format apply reads: applying the export changes nothing', async () => {
    const [exported, exportedJson] = await Promise.all([cli(['export', '-o', join(dir, 'exported.yaml')]), cli(['--json', 'export', 'cli-hooks'])]);
    expect(exported.code).toBe(0);
    const text = readFileSync(join(dir, 'exported.yaml'), 'utf8');
    expect(text).toContain('# running, step 1 of 2');
    const before = await dump();
    const run = await cli(['apply', '-f', join(dir, 'exported.yaml')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Nothing to change');
    expect(await dump()).toEqual(before);
    expect(JSON.parse(exportedJson.stdout).rollouts).toMatchObject([
      { key: 'cli-hooks', plan: [{ live: 0, shadow: 10 }, { live: 5 }, { live: 25 }, { live: 100 }], compare: { ignore: ['$.meta.requestId'], unorderedArrays: true } },
    ]);
  });
});

describe('lifecycle', { timeout: SUBPROCESS_BUDGET_MS }, () => {
  it('sends If-Match with the version read, and a conflict says who changed what since', async () => {
    const started = await cli(['--json', 'start', 'cli-hooks', '--reason', 'shadow first']);
    expect(started.code).toBe(0);
    const view = JSON.parse(started.stdout);
    expect(view).toMatchObject({ key: 'cli-hooks', state: 'running', step: 0 });
    expect((await api('POST', '/v1/rollouts/cli-hooks/advance', { reason: 'someone else moved it' })).status).toBe(200);
    const stale = await cli(['advance', 'cli-hooks', '--if-version', String(view.version)]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`cli-hooks changed since version ${view.version}, so it was not advanced`);
    expect(stale.stderr).toMatch(/key_\w+ {2}rollout\.advanced c1 — someone else moved it/);
    expect((await api('GET', '/v1/rollouts/cli-hooks')).body.step).toBe(1);
  });

  it('reverts only with --yes when not on a terminal, and asks on one', async () => {
    const before = await dump();
    const refused = await cli(['revert', 'cli-hooks', '--cohort', 'c1', '--reason', 'error rate']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    const declined = await runInTerminal(`node ${BIN} revert cli-hooks --cohort c1 --reason 'error rate'`, { env: { ROLLCALL_URL: live.url, ROLLCALL_KEY: live.adminKey }, input: 'n\n' });
    expect(declined.stdout).toContain('Revert cohort c1 of cli-hooks');
    expect(declined.stdout).toContain('not reverted');
    expect(await dump()).toEqual(before);

    const done = await cli(['revert', 'cli-hooks', '--cohort', 'c1', '--reason', 'error rate', '--yes']);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('cli-hooks cohort c1 reverted: paused');
    expect((await api('GET', '/v1/rollouts/cli-hooks')).body.cohorts[0]).toMatchObject({ name: 'c1', status: 'reverted', revertReason: 'error rate' });
    const resumed = await cli(['resume', 'cli-hooks', '--cohort', 'c1', '--reason', 'fixed']);
    expect(resumed.code).toBe(0);
    expect((await api('GET', '/v1/rollouts/cli-hooks')).body).toMatchObject({ state: 'running', cohorts: [{ name: 'c1', status: 'active' }] });
  });

  it('advances a paused rollout only with --force and says it stays paused; `wait --until step=N` counts as status prints', async () => {
    expect((await api('POST', '/v1/rollouts/cli-hooks/pause', { reason: 'look first' })).status).toBe(200);
    const before = await dump();
    const refused = await cli(['advance', 'cli-hooks', '--reason', 'shadow is clean']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('cli-hooks is paused (look first). advance would enter step 3 of 4 (live 25%) and leave it paused');
    expect(await dump()).toEqual(before);
    const forced = await cli(['advance', 'cli-hooks', '--reason', 'shadow is clean', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('cli-hooks advanced: paused, step 3 of 4, live 25%');
    expect(forced.stdout).toContain('still paused: nothing advances by itself');
    const reached = await cli(['wait', 'cli-hooks', '--until', 'step=3', '--timeout', '20s', '--interval', '200ms']);
    expect(reached.code, reached.stderr).toBe(0);
    expect(reached.stdout).toContain('cli-hooks reached step 3');
    expect((await cli(['wait', 'cli-hooks', '--until', 'step=0'])).code).toBe(2);
    expect((await api('POST', '/v1/rollouts/cli-hooks/resume', { reason: 'carry on' })).status).toBe(200);
  });
});

describe('rollcall wait', { timeout: SUBPROCESS_BUDGET_MS }, () => {
  it('returns 0 once the rollout completes, and 4 when time runs out', async () => {
    expect((await api('POST', '/v1/rollouts', { key: 'cli-wait', plan: [{ live: 10 }] })).status).toBe(201);
    const [timedOut] = await Promise.all([cli(['wait', 'cli-wait', '--until', 'completed', '--timeout', '1s', '--interval', '200ms'])]);
    expect(timedOut.code).toBe(4);
    expect(timedOut.stderr).toContain('timed out after 1 s waiting for cli-wait to reach completed');
    const waiting = cli(['--json', 'wait', 'cli-wait', '--until', 'completed', '--timeout', '90s', '--interval', '200ms']);
    expect((await api('POST', '/v1/rollouts/cli-wait/start')).status).toBe(200);
    expect((await api('POST', '/v1/rollouts/cli-wait/complete')).status).toBe(200);
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ reached: 'completed', rollout: { key: 'cli-wait', state: 'completed' } });
  });

  it('exits 1 when the controller reverts the rollout instead, and `lost` lists the lost ids', async () => {
    const key = 'cli-drops';
    expect((await api('POST', '/v1/rollouts', { key, plan: [{ live: 100 }], guards: { graceSeconds: 1, windowSeconds: 60, minSample: 10 } })).status).toBe(201);
    expect((await api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
    const waiting = cli(['wait', key, '--until', 'completed', '--timeout', '90s', '--interval', '200ms']);
    // An SDK's report of 40 messages received, every fourth never processed.
    const { createClient } = await import('../../../sdk/src/index.ts');
    const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: { warn() {}, error() {} }, flushIntervalMs: 100 });
    await rc.ready();
    const dropped: string[] = [];
    for (let i = 0; i < 40; i++) {
      const message = { partnerId: `partner-${i}`, messageId: `m-${i}` };
      rc.received(key, message);
      if (i % 4 === 0) dropped.push(message.messageId);
      else rc.processed(key, message);
    }
    await rc.flush();
    await rc.close();
    const reverted = await waiting;
    expect(reverted.code).toBe(1);
    expect(reverted.stderr).toMatch(/cli-drops did not reach completed: reverted \(c1 reverted by a guard \(controller\): guard loss breached in c1/);
    await waitFor(async () => (await api('GET', `/v1/rollouts/${key}/lost?limit=100`)).body.items.length === dropped.length, 30_000, 'every dropped id to be marked lost');
    const lost = await cli(['--json', 'lost', key, '--status', 'lost']);
    expect(JSON.parse(lost.stdout).items.map((m: { messageId: string }) => m.messageId).sort()).toEqual(dropped.sort());
    const table = await cli(['lost', key]);
    expect(table.stdout).toMatch(/^MESSAGE +PARTNER +COHORT/);
    expect(table.stdout).toContain('m-0 ');
  });
});

describe('status and output', { timeout: SUBPROCESS_BUDGET_MS }, () => {
  it('prints tables without escape codes off a terminal, colour on one, and none with NO_COLOR', async () => {
    const env = { ROLLCALL_URL: live.url, ROLLCALL_KEY: live.adminKey };
    const [plain, terminal, noColor, one] = await Promise.all([
      cli(['status']),
      runInTerminal(`node ${BIN} status`, { env }),
      runInTerminal(`node ${BIN} status cli-hooks`, { env: { ...env, NO_COLOR: '1' } }),
      cli(['status', 'cli-hooks']),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^ROLLOUT +STATE +STEP +LIVE +SHADOW +HEALTH/);
    expect(plain.stdout).toMatch(/cli-drops +paused .* reverted/);
    expect(plain.stdout).not.toContain('\x1b');
    expect(terminal.stdout).toContain('\x1b[1mROLLOUT');
    expect(terminal.stdout).toContain('\x1b[31mreverted');
    expect(noColor.stdout).toContain('COHORT');
    expect(noColor.stdout).not.toContain('\x1b');
    expect(one.stdout).toContain('cli-hooks  running  step 3 of 4  live 25%');
    expect(one.stdout).toMatch(/c1 +active +0–500 +0 +0/);
    expect(one.stdout).toContain('Last decisions:');
    // Comparisons run beside those skipped, and what each guard's test says.
    expect(one.stdout).toMatch(/LOST +COMPARED +MISMATCHED +SKIPPED/);
    expect(one.stdout).toContain('Evidence (each guard is judged by an anytime-valid test');
    expect(one.stdout).toMatch(/c1 loss: .* evidence [\d.]+ of \d+ \(1\/α\)/);
    expect(one.stdout).not.toContain('\x1b');
  });

  it('--json prints JSON that parses, for every command', async () => {
    const runs = await Promise.all([
      cli(['--json', 'status']),
      cli(['--json', 'status', 'cli-hooks']),
      cli(['--json', 'audit', 'cli-hooks', '--limit', '3']),
      cli(['--json', 'keys', 'prune']),
      cli(['--json', 'pause', 'cli-hooks', '--reason', 'lunch']),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const [all, one, audit, prune, paused] = runs.map((r) => JSON.parse(r.stdout));
    expect(all.items.map((r: { key: string }) => r.key)).toEqual(expect.arrayContaining(['cli-hooks', 'cli-queue', 'cli-wait', 'cli-drops']));
    expect(one).toMatchObject({ rollout: { key: 'cli-hooks' }, health: { cohorts: expect.any(Array) }, verdict: { status: expect.any(String) } });
    expect(audit.items).toHaveLength(3);
    expect(prune).toMatchObject({ apply: false, keys: [] });
    expect(paused).toMatchObject({ key: 'cli-hooks', state: 'paused' });
  });

  it('--watch off a terminal prints a view again only when state, step or health changed, not counts', async () => {
    const child = spawnCli(['status', 'cli-queue', '--watch'], { env: { ROLLCALL_URL: live.url, ROLLCALL_KEY: live.adminKey } });
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    try {
      await waitFor(() => out.includes('Last decisions:'), 60_000, 'the first view');
      // Three more refreshes print nothing, though counts moved meanwhile.
      const now = Date.now();
      const batch = {
        batchId: `watch-${now}`, sdk: { name: 'test', version: '0', instanceId: 'watch' }, sentAt: now, messages: [], mismatches: [], noise: [],
        counts: [{ rollout: 'cli-queue', cohort: 'baseline', path: 'old', second: Math.floor(now / 1000), received: 3, processed: 3, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 }],
      };
      const posted = await fetch(`${live.url}/v1/sdk/reports`, { method: 'POST', headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
      expect(posted.status, await posted.text()).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(out.match(/^# /gm)).toHaveLength(1);
      expect((await api('POST', '/v1/rollouts/cli-queue/advance', { reason: 'next' })).status).toBe(200);
      await waitFor(() => (out.match(/^# /gm) ?? []).length === 2, 60_000, 'the changed view');
      expect(out.split(/^# /m)[2]).toContain('rollout.advanced');
      expect(out).not.toContain('\x1b');
      // The key given on the command line is not in the process title.
      const title = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      expect(title).not.toContain(live.adminKey);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('exits 3 when the server cannot be reached and 2 on bad usage, sending nothing', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const [unreachable, badUrl, badKey, badOption, unknown, noKey] = await Promise.all([
      cli(['status'], { env: { ROLLCALL_URL: `http://127.0.0.1:${port}` } }),
      cli(['status', '--url', 'ftp://example']),
      cli(['start', '../keys']),
      cli(['wait', 'cli-hooks', '--until', 'soon']),
      cli(['deploy']),
      cli(['status'], { env: { ROLLCALL_KEY: undefined } }),
    ]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(badUrl.code).toBe(2);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('a rollout key is');
    expect(badOption.code).toBe(2);
    expect(unknown.code).toBe(2);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('set ROLLCALL_KEY');
  });
});

describe('operations', { timeout: SUBPROCESS_BUDGET_MS }, () => {
  it('creates, revokes and restores keys; a new key is printed once, as the API shows it', async () => {
    const created = await cli(['keys', 'create', '--kind', 'read', '--name', 'ci dashboard']);
    expect(created.code).toBe(0);
    const key = created.stdout.split('\n')[0]!;
    expect(key).toMatch(/^rc_read_\w+$/);
    const id = /read key (key_\w+) \(ci dashboard\)/.exec(created.stdout)![1]!;
    const revoked = await cli(['keys', 'revoke', id, '--reason', 'rotated']);
    expect(revoked.stdout).toContain(`${id} (ci dashboard) is revoked.`);
    const refused = await cli(['status'], { env: { ROLLCALL_KEY: key } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('401');
    expect(refused.stdout + refused.stderr).not.toContain(key);
    const [restored, list] = await Promise.all([cli(['keys', 'restore', id]), cli(['keys', 'list'])]);
    expect(restored.stdout).toContain('is active');
    expect(list.stdout).toMatch(new RegExp(`^${id} +read +ci dashboard`, 'm'));
    expect(list.stdout).not.toContain(key);
  });

  it('lists subscriptions and their deliveries, and sends one again', async () => {
    const receiver = await startReceiver({ status: 500 });
    try {
      const sub = await api('POST', '/v1/callbacks', { url: receiver.url, rollout: 'cli-cb' });
      expect(sub.status).toBe(201);
      expect((await api('POST', '/v1/rollouts', { key: 'cli-cb', plan: [{ live: 10 }] })).status).toBe(201);
      expect((await api('POST', '/v1/rollouts/cli-cb/start')).status).toBe(200);
      await receiver.waitFor(1, 60_000);
      const [list, deliveries] = await Promise.all([cli(['callbacks', 'list']), cli(['--json', 'callbacks', 'deliveries', sub.body.id])]);
      expect(list.stdout).toMatch(new RegExp(`${sub.body.id} +${receiver.url} +cli-cb +all +enabled`));
      const [delivery] = JSON.parse(deliveries.stdout).items;
      expect(delivery).toMatchObject({ type: 'rollout.started', rollout: 'cli-cb', status: 'pending', lastStatus: 500 });
      const retried = await cli(['callbacks', 'retry', delivery.id]);
      expect(retried.code).toBe(0);
      expect(retried.stdout).toContain(`${delivery.id}: brought forward`);
      await receiver.waitFor(2, 60_000);
      expect(receiver.received[1]!.headers['webhook-id']).toBe(receiver.received[0]!.headers['webhook-id']);
      const table = await cli(['callbacks', 'deliveries', sub.body.id]);
      expect(table.stdout).toMatch(new RegExp(`${delivery.id} +rollout\\.started +cli-cb`));
    } finally {
      await receiver.close();
    }
  });

  it('creates a subscription (secret shown once), sends it a signed test event, and deletes it', async () => {
    const receiver = await startReceiver({ status: 204 });
    try {
      const created = await cli(['callbacks', 'create', receiver.url, '--rollout', 'cli-cb', '--events', 'cohort.reverted', '--description', 'pager']);
      expect(created.code, created.stderr).toBe(0);
      const id = /^subscribed (cb_\w+) to /.exec(created.stdout)![1]!;
      const secret = /^secret: (whsec_\S+)$/m.exec(created.stdout)![1]!;
      const tested = await cli(['callbacks', 'test', id]);
      expect(tested.code, tested.stderr).toBe(0);
      expect(tested.stdout).toMatch(/^delivered: the receiver answered 204 in \d+ ms/);
      // Sent whatever the subscription's event filter, and signed like every event.
      const request = receiver.received.at(-1)!;
      const event = new Webhook(secret).verify(request.body, request.headers as Record<string, string>) as { type: string; data: { callback: string } };
      expect(event).toMatchObject({ type: 'callback.test', data: { callback: id } });
      const refused = await cli(['callbacks', 'create', 'http://169.254.169.254/latest']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('callbacks never reach');
      const deleted = await cli(['callbacks', 'delete', id]);
      expect(deleted.stdout).toContain(`${id} deleted`);
      expect((await cli(['callbacks', 'list', '--status', 'deleted'])).stdout).toContain(id);
      expect((await cli(['callbacks', 'test', id])).code).toBe(1);
    } finally {
      await receiver.close();
    }
  });

  it('never prints the key it authenticates with', () => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const run of outputs) expect(run.stdout + run.stderr).not.toContain(live.adminKey);
  });
});
