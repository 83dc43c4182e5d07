import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '@rollcall/protocol';
import { createApp } from '../../../server/app.ts';
import { silentLogger } from '../../../server/logger.ts';
import { createRollout, createTestApp, sendReport, sendTraffic, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const report = (parts: Partial<ReportBatch>) => sendReport(t, parts);

const traffic = (rollout: string, cohort: string, total: number, open: number, path: 'new' | 'old' | 'shadow' = 'new') => sendTraffic(t, rollout, cohort, total, open, path);

const get = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}`)).body;

describe('controller decisions', () => {
  it('is a compare-and-set: two controllers that measured the same breach revert once', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 100, 10);
    t.clock.advance(6_000);
    const other = createApp({ database: t.database, clock: t.clock, logger: silentLogger });
    await Promise.all([t.rollcall.services.controller.tick(), other.services.controller.tick()]);
    const actions = (await t.call('GET', '/v1/audit?rollout=r')).body.items.map((e: any) => e.action);
    expect(actions.filter((a: string) => a === 'guard.breached')).toHaveLength(1);
    expect(actions.filter((a: string) => a === 'cohort.reverted')).toHaveLength(1);
    expect((await get('r')).version).toBe(3);
  });

  it('marks nothing lost before the grace, and everything open after it', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 30, minSample: 1000 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 50, 7);
    t.clock.advance(29_000);
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(0);
    t.clock.advance(1_000);
    await t.rollcall.services.controller.tick();
    expect((await t.call('GET', '/v1/rollouts/r/lost')).body.items).toHaveLength(7);
  });

  it('auto-advances only once the step has baked and its cohort has enough due messages', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10, bakeSeconds: 60, minMessages: 200 }, { live: 50 }], autoAdvance: true, guards: { graceSeconds: 5, minSample: 100 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await traffic('r', 'c1', 150, 0);
    t.clock.advance(61_000);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0); // baked, but 150 of 200 due messages
    await traffic('r', 'c1', 100, 0);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0); // 250 received, only 150 due yet
    t.clock.advance(6_000);
    await t.rollcall.services.controller.tick();
    const advanced = await get('r');
    expect(advanced).toMatchObject({ step: 1, cohorts: [{ name: 'c1' }, { name: 'c2', from: 1000, to: 5000 }] });
    const entry = (await t.call('GET', '/v1/audit?rollout=r')).body.items[0];
    expect(entry).toMatchObject({ action: 'rollout.advanced', actor: 'controller' });
    expect(entry.reason).toMatch(/auto-advance/);
  });

  it('never auto-advances a paused rollout or one with a breach', async () => {
    await createRollout(t, 'r', { plan: [{ live: 10 }, { live: 50 }], autoAdvance: true, guards: { graceSeconds: 1, minSample: 10 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await t.call('POST', '/v1/rollouts/r/pause');
    await traffic('r', 'c1', 100, 0);
    t.clock.advance(2_000);
    await t.rollcall.services.controller.tick();
    expect((await get('r')).step).toBe(0);
  });

  it('waits for a silent reporter until its timeout, and two controllers declare it gone once', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 1000, reporterTimeoutSeconds: 20 } });
    await t.call('POST', '/v1/rollouts/r/start');
    const received = t.clock.now();
    const open = (i: number) => ({ rollout: 'r', messageId: `m${i}`, partnerId: 'p', cohort: 'c1', path: 'new' as const, status: 'open' as const, receivedAt: received, at: received });
    await report({ sdk: { name: 't', version: '1', instanceId: 'web' }, watermark: received, messages: [open(1), open(2)] });
    await report({ sdk: { name: 't', version: '1', instanceId: 'worker' }, watermark: received, messages: [{ ...open(3), status: 'failed' }] });
    const lost = async () => (await t.call('GET', '/v1/rollouts/r/lost')).body.items.length;
    for (let s = 0; s < 4; s++) {
      t.clock.advance(5_000);
      // The web tier keeps reporting; the worker has gone quiet.
      await report({ sdk: { name: 't', version: '1', instanceId: 'web' }, watermark: t.clock.now() });
      await t.rollcall.services.controller.tick();
      expect(await lost()).toBe(0);
    }
    t.clock.advance(1_000);
    const other = createApp({ database: t.database, clock: t.clock, logger: silentLogger });
    await Promise.all([t.rollcall.services.controller.tick(), other.services.controller.tick()]);
    expect(await lost()).toBe(2);
    const gone = (await t.call('GET', '/v1/audit?rollout=r')).body.items.filter((e: any) => e.action === 'reporter.gone');
    expect(gone).toMatchObject([{ subject: 'worker', actor: 'controller', after: { silentSeconds: 21 } }]);
    const outbox = await t.database.client.execute("SELECT count(*) AS n FROM callback_messages WHERE type = 'reporter.gone'");
    expect(Number(outbox.rows[0]!.n)).toBe(1);
    // Counted once over both servers, by the one that declared it (the metric RollcallReporterGone reads).
    const goneCounted = async (app: typeof other) =>
      Number(/^rollcall_reporters_gone_total\{rollout="r"\} (\d+)$/m.exec(await (await app.app.request('/metrics', { headers: { authorization: `Bearer ${t.keys.admin}` } })).text())?.[1] ?? 0);
    expect((await goneCounted(t.rollcall)) + (await goneCounted(other))).toBe(1);
  });

  it('treats dropped events as divergence', async () => {
    await createRollout(t, 'r', { plan: [{ live: 50 }] });
    await t.call('POST', '/v1/rollouts/r/start');
    const now = t.clock.now();
    await report({ counts: [{ rollout: 'r', cohort: 'c1', path: 'new', second: Math.floor(now / 1000), received: 5, processed: 5, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 1 }] });
    await t.rollcall.services.controller.tick();
    const breach = (await t.call('GET', '/v1/audit?rollout=r')).body.items.find((e: any) => e.action === 'guard.breached');
    expect(breach.after.guard).toBe('dropped');
  });
});
