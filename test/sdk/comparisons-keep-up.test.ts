/**
 * A caller that awaits one `run()` after another, with handlers that settle at
 * once, never gives the event loop a turn of its own: the comparisons must
 * keep up anyway. Skipping is for real overload only — candidates still
 * running when the limit is reached.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type Handlers, type RollcallClient } from '../../sdk/src/index.ts';
import { startLiveServer, waitFor, type LiveServer } from '../helpers/live-server.ts';

const quiet = { warn() {}, error() {} };
let live: LiveServer;
let rc: RollcallClient;

beforeEach(async () => {
  live = await startLiveServer();
  await live.api('POST', '/v1/rollouts', { key: 'all-shadow', plan: [{ live: 0, shadow: 100 }] });
  await live.api('POST', '/v1/rollouts', { key: 'half-shadow', plan: [{ live: 0, shadow: 50 }] });
  for (const key of ['all-shadow', 'half-shadow']) await live.api('POST', `/v1/rollouts/${key}/start`);
});
afterEach(async () => {
  await rc?.close();
  await live.close();
});

async function setup(options: Partial<ClientOptions> = {}) {
  rc = createClient({ url: live.url, sdkKey: live.sdkKey, logger: quiet, flushIntervalMs: 60_000, ...options });
  await rc.ready();
}

/** The stored counts of a rollout's cohort, summed over windows. */
async function counts(rollout: string, cohort: string) {
  const { rows } = await live.database.client.execute({
    sql: `SELECT coalesce(sum(received), 0) received, coalesce(sum(compared), 0) compared, coalesce(sum(mismatched), 0) mismatched, coalesce(sum(skipped), 0) skipped
          FROM cohort_counts c JOIN rollouts r ON r.id = c.rollout_id WHERE r.key = ? AND c.cohort = ?`,
    args: [rollout, cohort],
  });
  const row = rows[0]!;
  return { received: Number(row.received), compared: Number(row.compared), mismatched: Number(row.mismatched), skipped: Number(row.skipped) };
}

/** Flushes until the server holds every message sent and each is compared or skipped. */
async function settled(rollout: string, sent: number) {
  let last = await counts(rollout, 'shadow');
  await waitFor(
    async () => {
      await rc.flush();
      const [shadow, baseline] = [await counts(rollout, 'shadow'), await counts(rollout, 'baseline')];
      last = shadow;
      return shadow.received + baseline.received === sent && shadow.compared + shadow.skipped === shadow.received;
    },
    10_000,
    `the comparisons of ${rollout} to be reported`,
  );
  return last;
}

/** The ordinary caller: one message after another, each awaited, nothing else between. */
async function sequential(rollout: string, count: number, handlers: (i: number) => Handlers<unknown>) {
  for (let i = 0; i < count; i++) await rc.run(rollout, { partnerId: `partner-${i}`, messageId: `${rollout}-${i}` }, handlers(i));
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('comparisons keep up with a caller that awaits one run() after another', () => {
  it('compares every message with synchronous handlers, skipping none', async () => {
    await setup();
    await sequential('all-shadow', 301, (i) => ({ old: () => ({ n: i }), new: () => ({ n: i % 10 === 0 ? i + 1_000 : i }) }));
    expect(await settled('all-shadow', 301)).toEqual({ received: 301, compared: 301, mismatched: 31, skipped: 0 });
  });

  it('compares every message with async handlers that settle at once', async () => {
    await setup();
    await sequential('all-shadow', 300, (i) => ({ old: async () => i, new: async () => i }));
    expect(await settled('all-shadow', 300)).toEqual({ received: 300, compared: 300, mismatched: 0, skipped: 0 });
  });

  it('compares every message with handlers that wait a turn of the event loop', async () => {
    await setup();
    await sequential('all-shadow', 300, (i) => ({ old: () => tick().then(() => i), new: async () => (await tick(), i) }));
    expect(await settled('all-shadow', 300)).toEqual({ received: 300, compared: 300, mismatched: 0, skipped: 0 });
  });

  it('compares every message with a synchronous old path and an async candidate', async () => {
    await setup();
    await sequential('all-shadow', 300, (i) => ({ old: () => i, new: async () => i }));
    expect(await settled('all-shadow', 300)).toEqual({ received: 300, compared: 300, mismatched: 0, skipped: 0 });
  });

  it('compares every message when the old path throws', async () => {
    await setup();
    for (let i = 0; i < 300; i++) {
      const run = rc.run('all-shadow', { partnerId: `partner-${i}`, messageId: `thrown-${i}` }, { old: () => { throw new Error('old failed'); }, new: async () => i });
      await expect(run).rejects.toThrow('old failed');
    }
    expect(await settled('all-shadow', 300)).toEqual({ received: 300, compared: 300, mismatched: 300, skipped: 0 });
  });

  it('compares exactly the share a 50 % shadow selects', async () => {
    await setup();
    await sequential('half-shadow', 400, (i) => ({ old: () => i, new: () => i }));
    const shadow = await settled('half-shadow', 400);
    // The share is by partner: about half of 400 distinct partners, and every one of them compared.
    expect(shadow.received).toBeGreaterThan(150);
    expect(shadow.received).toBeLessThan(250);
    expect(shadow).toEqual({ received: shadow.received, compared: shadow.received, mismatched: 0, skipped: 0 });
  });
});

describe('real overload is still skipped', () => {
  it('skips what cannot be compared while candidates that never settle hold every slot', async () => {
    await setup({ maxConcurrentComparisons: 5, shadowTimeoutMs: 200 });
    await sequential('all-shadow', 60, (i) => ({ old: () => i, new: () => new Promise(() => {}) }));
    const shadow = await settled('all-shadow', 60);
    // The five admitted time out (compared, as timeout mismatches); the rest found no slot.
    expect(shadow).toEqual({ received: 60, compared: 5, mismatched: 5, skipped: 55 });
  });

  it('skips under a slow candidate and compares again once it has caught up', async () => {
    await setup({ maxConcurrentComparisons: 5 });
    const slow = () => new Promise((resolve) => setTimeout(() => resolve(1), 50));
    await sequential('all-shadow', 40, () => ({ old: () => 1, new: slow }));
    expect(await settled('all-shadow', 40)).toEqual({ received: 40, compared: 5, mismatched: 0, skipped: 35 });
    await sequential('all-shadow', 40, () => ({ old: () => 1, new: () => 1 }));
    expect(await settled('all-shadow', 80)).toEqual({ received: 80, compared: 45, mismatched: 0, skipped: 35 });
  });
});
