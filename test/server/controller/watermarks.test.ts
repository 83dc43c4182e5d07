import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type ClientOptions, type RollcallClient } from '../../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
const partners = Array.from({ length: 4000 }, (_, i) => `partner-${i}`);
const inBand = (salt: string, lo: number, hi: number) => partners.filter((p) => positionOf(salt, p) >= lo && positionOf(salt, p) < hi);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let live: LiveServer;
const clients: RollcallClient[] = [];
beforeEach(async () => {
  live = await startLiveServer({ tickMs: 100 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await live.close();
});

/**
 * A fetch for one SDK instance that can be cut off from the server (every
 * call fails, as in a partition or a dead process), and that can strip the
 * watermark from its reports (an SDK from before watermarks). It learns the
 * instance id from the first report.
 */
function network() {
  const state = { down: false, legacy: false, instanceId: null as string | null };
  const wrapped: typeof fetch = async (input, init) => {
    if (state.down) throw new TypeError('fetch failed: network unreachable');
    if (String(input).endsWith('/v1/sdk/reports') && init?.body instanceof Buffer) {
      const batch = JSON.parse(gunzipSync(init.body).toString());
      state.instanceId ??= batch.sdk.instanceId;
      if (state.legacy) {
        delete batch.watermark;
        delete batch.final;
        init = { ...init, body: gzipSync(JSON.stringify(batch)) };
      }
    }
    return fetch(input, init);
  };
  return { state, fetch: wrapped };
}

async function client(options: Partial<ClientOptions> = {}) {
  const rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 200, retry: { firstMs: 100, maxMs: 300 }, ...options });
  clients.push(rc);
  await rc.ready();
  return rc;
}

async function startRollout(key: string, body: Record<string, unknown>) {
  expect((await live.api('POST', '/v1/rollouts', { key, ...body })).status).toBe(201);
  expect((await live.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
}

const get = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}`)).body;
const health = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}/health`)).body;
const audit = async (key: string) => (await live.api('GET', `/v1/audit?rollout=${key}`)).body.items as any[];
const ledger = async (key: string, status: string) => (await live.api('GET', `/v1/rollouts/${key}/lost?status=${status}&limit=1000`)).body.items.map((m: any) => m.messageId).sort();
const message = (key: string, members: string[], i: number) => ({ partnerId: members[i % members.length]!, messageId: `${key}-${i}` });

/** The web tier receives, the worker processes: both report, so both are reporters of the rollout. */
async function warmUp(key: string, web: RollcallClient, worker: RollcallClient, members: string[]) {
  for (let i = 0; i < 5; i++) web.received(key, message(`${key}-warm`, members, i));
  await web.flush();
  for (let i = 0; i < 5; i++) worker.processed(key, message(`${key}-warm`, members, i));
  await worker.flush();
  await waitFor(async () => (await health(key)).reporters.live === 2, 5_000, 'both reporters to be live');
}

describe('reporter watermarks', () => {
  it('a worker partitioned for 4 × grace reverts nothing: every message settles as processed, and health shows its lag meanwhile', async () => {
    const key = 'blip';
    await startRollout(key, { plan: [{ live: 50 }], guards: { graceSeconds: 2, minSample: 20 } });
    const members = inBand(key, 0, 5000);
    const web = await client();
    const net = network();
    const worker = await client({ fetch: net.fetch });
    await warmUp(key, web, worker, members);

    net.state.down = true;
    for (let i = 0; i < 400; i++) web.received(key, message(key, members, i));
    await web.flush();
    for (let i = 0; i < 400; i++) worker.processed(key, message(key, members, i));
    const cutOff = Date.now();
    let lagSeen = 0;
    while (Date.now() - cutOff < 8_000) {
      const view = await health(key);
      const lagging = view.reporters.lagging.find((r: any) => r.instanceId === net.state.instanceId);
      if (lagging !== undefined) lagSeen = Math.max(lagSeen, lagging.lagSeconds);
      expect(view.cohorts.find((c: any) => c.name === 'c1')).toMatchObject({ status: 'active', lost: 0 });
      await sleep(250);
    }
    expect(lagSeen).toBeGreaterThan(4);

    net.state.down = false;
    await waitFor(() => worker.status.buffered === 0, 5_000, 'the worker to deliver what it held');
    await waitFor(async () => (await health(key)).reporters.lagging.length === 0, 5_000, 'the lag to end');
    // Past another grace and a few controller ticks, still nothing lost.
    await sleep(2_500);
    const rollout = await get(key);
    expect(rollout.state).toBe('running');
    expect(rollout.cohorts[0]).toMatchObject({ name: 'c1', status: 'active' });
    expect(await ledger(key, 'lost')).toEqual([]);
    expect(await ledger(key, 'late')).toEqual([]);
    const c1 = (await health(key)).cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ received: 405, processed: 405, lost: 0, late: 0, open: 0 });
    expect((await audit(key)).map((e) => e.action)).not.toContain('reporter.gone');
  });

  it('a worker killed with messages in flight is declared gone after the reporter timeout; its messages are then judged lost and the cohort reverted', async () => {
    const key = 'killed';
    await startRollout(key, { plan: [{ live: 50 }], guards: { graceSeconds: 1, minSample: 20, reporterTimeoutSeconds: 3 } });
    const members = inBand(key, 0, 5000);
    const web = await client();
    const net = network();
    const worker = await client({ fetch: net.fetch });
    await warmUp(key, web, worker, members);

    for (let i = 0; i < 100; i++) web.received(key, message(key, members, i));
    await web.flush();
    for (let i = 0; i < 60; i++) worker.processed(key, message(key, members, i));
    await worker.flush();
    // The process dies: it never reports again, and never says goodbye.
    net.state.down = true;
    const killedAt = Date.now();

    await waitFor(async () => (await get(key)).cohorts[0].status === 'reverted', 10_000, 'the revert');
    // Not before the reporter timeout: until then the worker might still have reported them.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(3_000);
    const expected = Array.from({ length: 40 }, (_, i) => `${key}-${60 + i}`).sort();
    await waitFor(async () => (await ledger(key, 'lost')).length === 40, 3_000, 'the 40 unprocessed messages to be lost');
    expect(await ledger(key, 'lost')).toEqual(expected);

    const entries = await audit(key);
    const gone = entries.find((e) => e.action === 'reporter.gone');
    expect(gone).toMatchObject({ actor: 'controller', subject: net.state.instanceId, after: { instanceId: net.state.instanceId } });
    expect(gone.after.silentSeconds).toBeGreaterThanOrEqual(3);
    // The gone reporter was declared before the breach it let through.
    expect(entries.findIndex((e) => e.action === 'reporter.gone')).toBeGreaterThan(entries.findIndex((e) => e.action === 'guard.breached'));
    const outbox = await live.database.client.execute({ sql: "SELECT body FROM callback_messages WHERE rollout_key = ? AND type = 'reporter.gone'", args: [key] });
    expect(outbox.rows).toHaveLength(1);
    expect(JSON.parse(String(outbox.rows[0]!.body))).toMatchObject({ type: 'reporter.gone', data: { rollout: key, actor: 'controller', figures: { instanceId: net.state.instanceId } } });

    const view = await health(key);
    expect(view.degraded).toBe(true);
    expect(view.degradedReason).toContain(net.state.instanceId);
    expect(view.reporters.gone).toMatchObject([{ instanceId: net.state.instanceId }]);
  });

  it('a worker that drops one message in nine is reverted as fast with watermarks as without', async () => {
    const timings: Record<string, number> = {};
    for (const legacy of [true, false]) {
      const key = legacy ? 'drops-legacy' : 'drops';
      await startRollout(key, { plan: [{ live: 50 }], guards: { graceSeconds: 2, minSample: 20 } });
      const members = inBand(key, 0, 5000);
      const net = network();
      net.state.legacy = legacy;
      const rc = await client({ fetch: net.fetch });
      let reverted = 0;
      rc.on('revert', () => (reverted ||= Date.now()));
      const sent = Date.now();
      for (let i = 0; i < 180; i++) {
        rc.received(key, message(key, members, i));
        if (i % 9 !== 0) rc.processed(key, message(key, members, i));
      }
      await rc.flush();
      await waitFor(() => reverted > 0, 8_000, `the revert of ${key}`);
      timings[legacy ? 'withoutWatermarks' : 'withWatermarks'] = reverted - (sent + 2_000);
      // A tick can fall among the messages' due times: the rest are marked lost by the next ones.
      await waitFor(async () => (await ledger(key, 'lost')).length === 20, 3_000, 'all 20 dropped messages to be lost');
      expect((await audit(key)).find((e) => e.action === 'guard.breached').after.guard).toBe('loss');
    }
    if (process.env.ROLLCALL_TIMINGS) console.log(`ms from the losses being due to the revert reaching the SDK: ${JSON.stringify(timings)}`);
    // Both within the bar the drop scenario already holds (grace + 2 s from sending).
    expect(timings.withWatermarks).toBeLessThan(2_000);
    expect(timings.withoutWatermarks).toBeLessThan(2_000);
  });
});
