/**
 * Verdicts at the handler's pace, end to end: a real server, a real SDK with
 * its default one-second flush, 100 messages a second through `run()` with
 * handlers of a few tens of milliseconds. A loss is judged once the old
 * path's own settle time has passed (about a second here, not the 30 s
 * grace), a slower rewrite is stopped by the latency guard, and a healthy
 * rollout whose paths both fail 5 % is left alone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { createClient, type RollcallClient } from '../../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const partners = Array.from({ length: 2000 }, (_, i) => `partner-${i}`);

let live: LiveServer;
let rc: RollcallClient | undefined;
beforeEach(async () => {
  live = await startLiveServer({ tickMs: 250 });
});
afterEach(async () => {
  await rc?.close();
  rc = undefined;
  await live.close();
});

const get = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}`)).body;
const health = async (key: string) => (await live.api('GET', `/v1/rollouts/${key}/health`)).body;

async function start(key: string, body: Record<string, unknown> = {}) {
  expect((await live.api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }], ...body })).status).toBe(201);
  expect((await live.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet });
  await rc.ready();
}

/**
 * Sends 10 messages every 100 ms until `until` says stop or `seconds` pass. `drop(i)` leaves a
 * new-path message received but never settled; handlers take `ms(path)` and fail when `fails(i)`.
 */
async function traffic(key: string, options: { seconds: number; ms: (path: 'old' | 'new') => number; drop?: (i: number) => boolean; fails?: (i: number) => boolean; until?: () => boolean; onDrop?: () => void }) {
  const handler = (path: 'old' | 'new', i: number) => async () => {
    await sleep(options.ms(path) * (0.8 + Math.random() * 0.4));
    if (options.fails?.(i)) throw new Error('downstream refused');
    return { ok: true };
  };
  const pending: Promise<unknown>[] = [];
  const end = Date.now() + options.seconds * 1000;
  for (let i = 0; Date.now() < end && !(options.until?.() ?? false); ) {
    for (let k = 0; k < 10; k++, i++) {
      const partnerId = partners[i % partners.length]!;
      const message = { partnerId, messageId: `${key}-${i}` };
      if (rc!.path(key, partnerId) === 'new' && options.drop?.(i)) {
        rc!.received(key, message);
        options.onDrop?.();
        continue;
      }
      pending.push(rc!.run(key, message, { old: handler('old', i), new: handler('new', i) }).catch(() => undefined));
    }
    await sleep(100);
  }
  await Promise.all(pending);
}

describe('verdicts at the handler pace', () => {
  it('reverts a 50 ms handler that drops one message in ten within seconds of the first drop, not after the grace', async () => {
    await start('drops');
    let firstDrop: number | null = null;
    let reverted: number | null = null;
    rc!.on('revert', () => (reverted ??= Date.now()));
    await traffic('drops', { seconds: 20, ms: () => 50, drop: (i) => i % 10 === 3, onDrop: () => (firstDrop ??= Date.now()), until: () => reverted !== null });
    await waitFor(async () => reverted !== null, 5_000, 'the SDK to hear of the revert');
    const seconds = (reverted! - firstDrop!) / 1000;
    if (process.env.SHOW_DETECTION) console.error(`drop to revert: ${seconds} s`);
    // 2 s is the design target on a quiet machine (1 s settle floor, 1 s flush, 250 ms tick); this shared one gets slack.
    expect(seconds).toBeLessThan(6);
    const c1 = partners.find((p) => positionOf('drops', p) < 5000)!;
    expect(rc!.path('drops', c1)).toBe('old');
    const rollout = await get('drops');
    expect(rollout.cohorts[0]).toMatchObject({ status: 'reverted', revertKind: 'breach' });
    expect(rollout.cohorts[0].revertReason).toMatch(/^guard loss breached in c1: loss .* vs tolerated 0\.100%: evidence passed 1\/α \(.*\) after \d+ messages/);
    // A message was due after the old path's settle time: the floor of one second, not the 30 s grace.
    expect((await health('drops')).dueSeconds).toBe(1);
  }, 40_000);

  it('stops a rewrite three times slower at p95 with the latency guard', async () => {
    await start('slow');
    let reverted = false;
    rc!.on('revert', () => (reverted = true));
    // 150 ms against 50: still over ×2 at p95 when a busy machine delays every timer by up to 50 ms
    // (60 against 20 was not, with the suite on two shared cores: the delay adds to both paths alike).
    await traffic('slow', { seconds: 25, ms: (path) => (path === 'new' ? 150 : 50), until: () => reverted });
    await waitFor(async () => (await get('slow')).cohorts[0].status === 'reverted', 5_000, 'the slow cohort to be reverted');
    const rollout = await get('slow');
    expect(rollout.cohorts[0].revertReason).toMatch(/^guard latency breached in c1: latency p95 ×\d\.\d+ vs tolerated ×2: evidence passed 1\/α/);
  }, 45_000);

  it('leaves alone a rollout whose old and new paths both fail 5 % of messages, and says what it is judging', async () => {
    await start('flaky-both');
    await traffic('flaky-both', { seconds: 6, ms: () => 10, fails: (i) => i % 20 === 7 });
    await rc!.flush();
    await sleep(1_500);
    const rollout = await get('flaky-both');
    expect(rollout.state).toBe('running');
    expect(rollout.cohorts[0].status).toBe('active');
    const h = await health('flaky-both');
    expect(h.breached).toBe(false);
    const c1 = h.cohorts.find((c: any) => c.name === 'c1');
    expect(c1.failed).toBeGreaterThan(0);
    // Every guard has a verdict with its evidence, none breached.
    expect(c1.verdicts.map((v: any) => v.guard)).toEqual(['loss', 'failure', 'mismatch', 'latency']);
    for (const v of c1.verdicts) expect(v).toMatchObject({ breached: false, needed: expect.any(Number), evidence: expect.any(Number) });
  }, 30_000);
});
