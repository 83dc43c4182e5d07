/**
 * The rollout page's charts say what its table says: every rate chart ends on
 * the cohort's rate as health judged it (net of noise, same window), the
 * buckets add up to it with no correction (`data-drift` 0), and the counts
 * charts sum to the table's counts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, sendReport, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
afterEach(() => t.close());

interface Drawn {
  attrs: Record<string, string>;
  series: Record<string, { last?: number; total: number }>;
}

/** Every chart on the page: its figure's attributes and its series' last values and totals. */
function chartsOf(html: string): Drawn[] {
  return html
    .split('<figure')
    .slice(1)
    .map((chunk) => {
      const body = chunk.slice(0, chunk.indexOf('</figure>'));
      const head = body.slice(0, body.indexOf('>'));
      const attrs = Object.fromEntries([...head.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      const series: Drawn['series'] = {};
      for (const m of body.matchAll(/data-series="([^"]+)"(?: data-last="([^"]+)")? data-total="([^"]+)"/g)) series[m[1]!] = { last: m[2] === undefined ? undefined : Number(m[2]), total: Number(m[3]) };
      return { attrs, series };
    });
}

async function pageOf(key: string): Promise<string> {
  const res = await t.rollcall.app.request(`/rollouts/${key}`, { headers: { cookie: `rollcall_session=${t.keys.read}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const healthOf = async (key: string) => (await t.call('GET', `/v1/rollouts/${key}/health`)).body;

/** Every rate chart ends on the table's rate with no drift; every counts chart sums to the table's counts. */
function expectAgreement(html: string, health: any) {
  const charts = chartsOf(html);
  let rates = 0;
  for (const chart of charts) {
    const cohort = health.cohorts.find((c: any) => c.name === chart.attrs['data-cohort']);
    expect(cohort, chart.attrs['data-cohort']).toBeDefined();
    const kind = chart.attrs['data-chart']!;
    if (kind === 'counts') {
      for (const what of ['received', 'processed', 'failed', 'lost']) expect(chart.series[`${cohort.name} ${what}`]?.total, `${cohort.name} ${what}`).toBe(cohort[what]);
      continue;
    }
    rates++;
    expect(chart.attrs['data-drift'], `${cohort.name} ${kind} drift`).toBe('0');
    const drawn = chart.series[cohort.name]?.last;
    if (cohort.rates[kind] === null) expect(drawn).toBeUndefined();
    else expect(drawn, `${cohort.name} ${kind}`).toBeCloseTo(cohort.rates[kind], 12);
  }
  expect(rates).toBeGreaterThan(0);
  return charts;
}

/** One second's counts of a cohort, with differences by field set for mismatches. */
function counts(rollout: string, cohort: string, path: string, figures: Partial<Record<'received' | 'processed' | 'failed' | 'compared' | 'mismatched', number>>, differences?: { paths: string[]; count: number }[]) {
  return { rollout, cohort, path, second: Math.floor(t.clock.now() / 1000), received: 0, processed: 0, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, ...figures, ...(differences ? { differences } : {}) } as any;
}

describe('the rollout charts agree with the cohort table', () => {
  it('a rewrite that differs only in a learned-noise traceId: the mismatch chart ends at 0 %, under its guard', async () => {
    t = await createTestApp();
    await t.call('POST', '/v1/rollouts', { body: { key: 'ledger-export-v2', plan: [{ live: 0, shadow: 100 }, { live: 100 }], guards: { minSample: 100 } } });
    await t.call('POST', '/v1/rollouts/ledger-export-v2/start');
    for (let i = 0; i < 6; i++) {
      await sendReport(t, {
        counts: [counts('ledger-export-v2', 'shadow', 'shadow', { received: 120, processed: 120, compared: 120, mismatched: 120 }, [{ paths: ['$.traceId'], count: 120 }])],
        noise: [{ rollout: 'ledger-export-v2', paths: ['$.traceId'], runs: 25, counts: [25] }],
      });
      t.clock.advance(5_000);
    }
    await t.rollcall.services.controller.tick();
    const health = await healthOf('ledger-export-v2');
    const shadow = health.cohorts.find((c: any) => c.name === 'shadow');
    expect(shadow).toMatchObject({ compared: 720, mismatched: 0, withdrawn: 720, rates: { mismatch: 0 } });
    expect(health.health.status).toBe('healthy');
    const charts = expectAgreement(await pageOf('ledger-export-v2'), health);
    const mismatch = charts.find((c) => c.attrs['data-cohort'] === 'shadow' && c.attrs['data-chart'] === 'mismatch')!;
    expect(mismatch.series.shadow!.last).toBe(0);
  });

  it('a real difference beside the noise: the chart ends on the table’s 25 %, not the raw 100 %', async () => {
    t = await createTestApp();
    await t.call('POST', '/v1/rollouts', { body: { key: 'hooks', plan: [{ live: 0, shadow: 100 }], guards: { minSample: 100_000 } } });
    await t.call('POST', '/v1/rollouts/hooks/start');
    for (let i = 0; i < 3; i++) {
      await sendReport(t, {
        counts: [counts('hooks', 'shadow', 'shadow', { received: 120, processed: 120, compared: 120, mismatched: 120 }, [{ paths: ['$.traceId'], count: 90 }, { paths: ['$.traceId', '$.type'], count: 30 }])],
        noise: [{ rollout: 'hooks', paths: ['$.traceId'], runs: 25, counts: [25] }],
      });
      t.clock.advance(7_000);
    }
    const health = await healthOf('hooks');
    expect(health.cohorts.find((c: any) => c.name === 'shadow')).toMatchObject({ compared: 360, mismatched: 90, withdrawn: 270, rates: { mismatch: 0.25 } });
    expectAgreement(await pageOf('hooks'), health);
  });

  it('a small cohort losing messages beside a big baseline: its own scale, its loss and failure over the baseline’s to the figure', async () => {
    t = await createTestApp();
    await t.call('POST', '/v1/rollouts', { body: { key: 'queue', plan: [{ live: 1 }, { live: 100 }], guards: { graceSeconds: 5, minSample: 100 } } });
    await t.call('POST', '/v1/rollouts/queue/start');
    for (let i = 0; i < 8; i++) {
      const now = t.clock.now();
      const open = i < 3 ? 4 : 0;
      const messages = Array.from({ length: open }, (_, k) => ({ rollout: 'queue', messageId: `c1-${i}-${k}`, partnerId: `p${k}`, cohort: 'c1', path: 'new' as const, status: 'open' as const, receivedAt: now, at: now }));
      await sendReport(t, {
        counts: [counts('queue', 'c1', 'new', { received: 28, processed: 28 - open - (i % 4 === 0 ? 1 : 0), failed: i % 4 === 0 ? 1 : 0 }), counts('queue', 'baseline', 'old', { received: 2000, processed: 1990, failed: 10 }),
          // A verified share of c1 also runs the old path: not c1's figures (it is measured on new).
          counts('queue', 'c1', 'old', { received: 5, processed: 2, failed: 3 })],
        messages,
      });
      t.clock.advance(10_000);
    }
    await sendReport(t, {});
    await t.rollcall.services.controller.tick();
    const health = await healthOf('queue');
    const c1 = health.cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ received: 224, lost: 12, failed: 2 });
    expect(c1.rates.loss).toBeGreaterThan(0.05);
    const charts = expectAgreement(await pageOf('queue'), health);
    const kinds = charts.filter((c) => c.attrs['data-cohort'] === 'c1').map((c) => c.attrs['data-chart']);
    expect(kinds).toEqual(['counts', 'loss', 'failureDelta']);
    // The baseline has its own counts chart and no rate charts of its own.
    expect(charts.filter((c) => c.attrs['data-cohort'] === 'baseline').map((c) => c.attrs['data-chart'])).toEqual(['counts']);
  });

  it('a due line inside a second that a chart bucket starts after (at and due line not whole seconds): the loss chart still ends on the table', async () => {
    // Buckets are whole seconds in the database; the chart once labelled them from the window's
    // start in ms, so the second holding the due line (12:00:09.577 here) began "after" it (at .900)
    // and its due messages were left off the line: 12/140 drawn against the table's 12/168.
    t = await createTestApp({ start: Date.UTC(2026, 10, 1, 12, 0, 0, 900) });
    await t.call('POST', '/v1/rollouts', { body: { key: 'q', plan: [{ live: 1 }, { live: 100 }], guards: { graceSeconds: 5, minSample: 100_000 } } });
    await t.call('POST', '/v1/rollouts/q/start');
    for (let i = 0; i < 11; i++) {
      const now = t.clock.now();
      const open = i < 3 ? 4 : 0;
      const messages = Array.from({ length: open }, (_, k) => ({ rollout: 'q', messageId: `c1-${i}-${k}`, partnerId: `p${k}`, cohort: 'c1', path: 'new' as const, status: 'open' as const, receivedAt: now, at: now }));
      // Handlers of about 440 ms: a message is due 1,323 ms after receipt, not a whole number of seconds.
      await sendReport(t, { counts: [{ ...counts('q', 'c1', 'new', { received: 28, processed: 28 - open }), latency: [75, 28 - open] }, { ...counts('q', 'baseline', 'old', { received: 500, processed: 500 }), latency: [75, 500] }], messages });
      t.clock.advance(1_000);
    }
    t.clock.advance(-1_000);
    await sendReport(t, {});
    await t.rollcall.services.controller.tick();
    const health = await healthOf('q');
    expect((health.dueSeconds * 1000) % 1000).not.toBe(0);
    const c1 = health.cohorts.find((c: any) => c.name === 'c1');
    expect(c1).toMatchObject({ lost: 12 });
    expect(c1.due % 28).toBe(0);
    expect(c1.due).toBeGreaterThan(28 * 3);
    expectAgreement(await pageOf('q'), health);
  });

  it('a cohort reverted by its guard, whose partners go on losing messages on the old path: still the table’s figures', async () => {
    t = await createTestApp();
    await t.call('POST', '/v1/rollouts', { body: { key: 'q', plan: [{ live: 1 }, { live: 100 }], guards: { graceSeconds: 2, minSample: 100 } } });
    await t.call('POST', '/v1/rollouts/q/start');
    for (let i = 0; i < 4; i++) {
      const now = t.clock.now();
      const path = i === 0 ? 'new' : 'old';
      const messages = Array.from({ length: 4 }, (_, k) => ({ rollout: 'q', messageId: `c1-${i}-${k}`, partnerId: `p${k}`, cohort: 'c1', path, status: 'open' as const, receivedAt: now, at: now }));
      await sendReport(t, { counts: [counts('q', 'c1', path, { received: 28, processed: 24 })], messages: messages as any });
      t.clock.advance(3_000);
      await sendReport(t, {});
      await t.rollcall.services.controller.tick();
    }
    const health = await healthOf('q');
    const c1 = health.cohorts.find((c: any) => c.name === 'c1');
    expect(c1.status).toBe('reverted');
    // c1 is measured on its new path: the 12 messages its partners lost on the old path after the revert are
    // neither in its due count nor in its lost count (they once made 16 lost of 28 due), yet listed for replay.
    expect(c1).toMatchObject({ due: 28, lost: 4 });
    expect((await t.call('GET', '/v1/rollouts/q/lost?limit=100')).body.items.filter((m: any) => m.cohort === 'c1')).toHaveLength(16);
    expectAgreement(await pageOf('q'), health);
  });
});
