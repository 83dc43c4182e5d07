/**
 * The shadow verdict both ways, with real SDK clients against a real server:
 * handlers that build records from webhook payloads, where both paths stamp
 * their own `handledAt` and `traceId` and the rewrite orders labels
 * differently. Noise is learned by running the old path twice; no `ignore`
 * list anywhere.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type RollcallClient, type RunCompareOptions } from '../../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
const TYPES = ['invoice.paid', 'invoice.created', 'customer.updated', 'subscription.renewed', 'charge.refunded', 'payout.sent'];

let live: LiveServer;
let rc: RollcallClient | undefined;
beforeEach(async () => {
  live = await startLiveServer({ tickMs: 100 });
});
afterEach(async () => {
  await rc?.close();
  rc = undefined;
  await live.close();
});

const get = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}`)).body;
const audit = async (key: string) => (await live.api('GET', `/v1/audit?rollout=${key}`)).body.items as any[];
const mismatches = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}/mismatches?limit=100`)).body;

/** A webhook payload as a partner sends it. */
function payload(i: number) {
  return { id: `evt_${i}`, type: TYPES[i % TYPES.length]!, data: { amount: 1_000 + i, currency: 'eur', labels: ['billing', `tier-${i % 3}`, 'webhook'] } };
}

type Event = ReturnType<typeof payload>;

/** The old handler's record: its own handling time and trace id on every run. */
const record = (event: Event, type = event.type) => ({
  eventId: event.id,
  type,
  amount: event.data.amount,
  currency: event.data.currency,
  labels: [...event.data.labels],
  handledAt: `${new Date().toISOString()}/${process.hrtime.bigint()}`,
  traceId: randomUUID(),
});

/** Drives `count` messages through a shadow step; with `all`, waits until the server has counted every comparison. */
async function drive(key: string, count: number, handlers: { old: (e: Event) => unknown; new: (e: Event) => unknown }, compare: RunCompareOptions, all = true) {
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 200, compare });
  await rc.ready();
  for (let i = 0; i < count; i++) {
    const event = payload(i);
    await rc.run(key, { partnerId: `partner-${i % 50}`, messageId: `${key}-${i}` }, { old: () => handlers.old(event), new: () => handlers.new(event) });
    // As a service between messages, let the event loop turn: shadow candidates start in a later turn.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await rc.flush();
  if (!all) return;
  // Every shadow message is compared or, under real overload, skipped: wait for all of them to be counted, then
  // say which (a loaded machine may take a while; a skip is a failure of its own, named as such).
  await waitFor(async () => (await rc!.flush(), (await comparedOf(key)) + (await skippedOf(key)) === count), 30_000, 'every comparison to be reported');
  expect(await skippedOf(key), 'comparisons skipped').toBe(0);
}

const sumOf = async (key: string, counter: 'compared' | 'skipped') => {
  const { rows } = await live.database.client.execute({
    sql: `SELECT coalesce(sum(c.${counter}), 0) AS n FROM cohort_counts c JOIN rollouts r ON r.id = c.rollout_id WHERE r.key = ?`,
    args: [key],
  });
  return Number(rows[0]!.n);
};

/** Comparisons the server has counted for a rollout, as stored (before any withdrawal). */
const comparedOf = (key: string) => sumOf(key, 'compared');
const skippedOf = (key: string) => sumOf(key, 'skipped');

async function startShadow(key: string) {
  const plan = [{ live: 0, shadow: 100, minMessages: 100 }, { live: 25 }];
  expect((await live.api('POST', '/v1/rollouts', { key, plan, autoAdvance: true, guards: { minSample: 100, maxMismatchRate: 0.02 } })).status).toBe(201);
  expect((await live.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
}

describe('the shadow verdict with learned noise', () => {
  it('lets a correct rewrite through: per-run timestamps, generated ids and reordered labels are noise, no ignore list needed', async () => {
    await startShadow('hooks-ok');
    const rewrite = (e: Event) => ({ ...record(e), labels: [...e.data.labels].reverse() });
    // It may advance while messages still flow: from then on a quarter of them are live, the rest old.
    await drive('hooks-ok', 240, { old: record, new: rewrite }, { unorderedArrays: true, learnNoise: 0.2 }, false);
    await waitFor(async () => (await get('hooks-ok')).step === 1, 8_000, 'the correct rewrite to auto-advance');
    expect((await get('hooks-ok')).state).toBe('running');
    expect((await audit('hooks-ok')).map((e) => e.action)).not.toContain('guard.breached');
    const body = await mismatches('hooks-ok');
    expect(body.learnedNoise).toEqual(['$.handledAt', '$.traceId']);
    expect(body.fields.map((f: any) => [f.path, f.noise])).toEqual([
      ['$.handledAt', true],
      ['$.traceId', true],
    ]);
    // The last comparisons may still be in flight: read both sides once the SDK has flushed them all.
    let compared = 0;
    let counts: number[][] = [];
    await waitFor(async () => {
      await rc!.flush();
      compared = await comparedOf('hooks-ok');
      counts = (await mismatches('hooks-ok')).fields.map((f: any) => [f.count, f.compared]);
      return counts.every(([count, of]) => count === compared && of === compared);
    }, 8_000, 'every comparison to be counted in both fields');
    expect(compared).toBeGreaterThanOrEqual(100);
    expect(counts).toEqual([
      [compared, compared],
      [compared, compared],
    ]);
    expect(body.noise.runs).toBeGreaterThanOrEqual(20);
    for (const f of body.noise.fields) expect(f).toMatchObject({ noise: true, learnedAt: expect.any(String), learnedFrom: expect.any(Number) });
    // Every sample was withdrawn: it differs in noise alone, shown apart.
    expect(body.items.length).toBeGreaterThan(0);
    for (const item of body.items) expect(item).toMatchObject({ withdrawn: true, diffs: [] });
  });

  // Enough messages for the evidence: with 240 double runs (a fifth of 1,200) that never saw $.type differ, the old
  // path's own rate there is bounded near 5 %, well under the 1 in 6 the rewrite gets wrong.
  it('stops a rewrite that mislabels one event type in six, with the type ranked first and noise apart', async () => {
    await startShadow('hooks-bad');
    const rewrite = (e: Event) => ({ ...record(e, e.type === 'customer.updated' ? 'customer.created' : e.type), labels: [...e.data.labels].reverse() });
    await drive('hooks-bad', 1200, { old: record, new: rewrite }, { unorderedArrays: true, learnNoise: 0.2 });
    await waitFor(async () => (await get('hooks-bad')).state === 'paused', 8_000, 'the faulty rewrite to be stopped');
    expect(await get('hooks-bad')).toMatchObject({ step: 0, cohorts: [] });
    const breach = (await audit('hooks-bad')).find((e) => e.action === 'guard.breached');
    expect(breach.after.guard).toBe('mismatch');
    // Only the mislabelled sixth counts: the noise-only mismatches were withdrawn.
    const { mismatched, compared } = breach.after.figures.cohort;
    expect(mismatched / compared).toBeGreaterThan(0.1);
    expect(mismatched / compared).toBeLessThan(0.25);
    const body = await mismatches('hooks-bad');
    expect(body.fields[0]).toMatchObject({ path: '$.type', noise: false, count: 200, compared: 1200 });
    expect(body.fields.slice(1).map((f: any) => [f.path, f.noise])).toEqual([
      ['$.handledAt', true],
      ['$.traceId', true],
    ]);
    const real = body.items.filter((m: any) => !m.withdrawn);
    expect(real.length).toBeGreaterThan(0);
    for (const item of real) {
      expect(item.diffs).toEqual([{ path: '$.type', old: 'customer.updated', new: 'customer.created' }]);
      expect(item.noise.map((d: any) => d.path).sort()).toEqual(['$.handledAt', '$.traceId']);
    }
  });

  it('still stops a real difference in a field that also carries noise in some messages', async () => {
    await startShadow('hooks-flaky');
    // Every twentieth event is a redelivery whose type carries a per-run marker: noise in $.type.
    const typeOf = (e: Event, i: number) => (i % 20 === 0 ? `${e.type}#redelivery-${randomUUID().slice(0, 8)}` : e.type);
    const index = (e: Event) => Number(e.id.slice(4));
    const old = (e: Event) => record(e, typeOf(e, index(e)));
    const rewrite = (e: Event) => record(e, e.type === 'invoice.created' ? 'invoice.updated' : typeOf(e, index(e)));
    await drive('hooks-flaky', 720, { old, new: rewrite }, { learnNoise: 1 });
    await waitFor(async () => (await get('hooks-flaky')).state === 'paused', 8_000, 'the rewrite to be stopped');
    expect((await get('hooks-flaky')).step).toBe(0);
    expect((await audit('hooks-flaky')).find((e) => e.action === 'guard.breached').after.guard).toBe('mismatch');
    const body = await mismatches('hooks-flaky');
    // Two old runs differ in $.type in 1 message of 20; old and new in 1 of 20 plus 1 of 6.
    const type = body.noise.fields.find((f: any) => f.path === '$.type');
    expect(type).toMatchObject({ differing: 36, noise: false, learnedAt: expect.any(String) });
    expect(body.fields[0]).toMatchObject({ path: '$.type', noise: false, count: 156, compared: 720, oldRate: 0.05 });
    expect(body.learnedNoise).toEqual(['$.handledAt', '$.traceId']);
  });
});
