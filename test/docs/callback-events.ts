/**
 * Every callback event the server sends, produced for real: a Rollcall app
 * over a temporary database decides (by hand and by its controller), and its
 * delivery worker posts each event over HTTP to a receiver on 127.0.0.1,
 * where the Standard Webhooks reference verifier checks the signature.
 * docs/callbacks.md is tested against what arrives here.
 */
import { loadConfig } from '../../server/config.ts';
import { startReceiver, verify } from '../helpers/receiver.ts';
import { createRollout, createTestApp, sendReport, sendTraffic, type TestApp } from '../helpers/test-app.ts';

export interface SentEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** What each scenario produced, in the order the receiver got it. */
export async function produceCallbackEvents(): Promise<SentEvent[]> {
  const allow = loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow;
  // The clock starts at the real time so the verifier's 5-minute window is meaningful.
  const t: TestApp = await createTestApp({ start: Date.now(), deps: { callbacks: { allow, random: () => 0.5 } } });
  const hook = await startReceiver();
  try {
    const subscribed = await t.call('POST', '/v1/callbacks', { body: { url: hook.url } });
    if (subscribed.status !== 201) throw new Error(`subscribe: ${subscribed.text}`);
    const secret: string = subscribed.body.secret;
    const post = async (path: string, body?: unknown) => {
      const reply = await t.call('POST', path, { body });
      if (reply.status >= 300) throw new Error(`${path}: ${reply.status} ${reply.text}`);
    };
    const tick = () => t.rollcall.services.controller.tick();

    // By hand: the whole lifecycle, a cohort reverted, then the kill switch after completion.
    await createRollout(t, 'psa-webhooks-v2');
    await post('/v1/rollouts/psa-webhooks-v2/start', { reason: 'shadow first' });
    await post('/v1/rollouts/psa-webhooks-v2/advance', { reason: 'shadow is clean' });
    await post('/v1/rollouts/psa-webhooks-v2/pause', { reason: 'partner call at 3 pm' });
    await post('/v1/rollouts/psa-webhooks-v2/resume', { reason: 'call went fine' });
    await post('/v1/rollouts/psa-webhooks-v2/revert', { cohort: 'c1', reason: 'partners report missing updates' });
    await post('/v1/rollouts/psa-webhooks-v2/complete', { reason: 'fixed and verified' });
    await post('/v1/rollouts/psa-webhooks-v2/revert', { reason: 'kill switch: duplicate deliveries' });

    // By the controller: a loss breach reverts c1 (guard.breached, cohort.reverted, messages.lost).
    await createRollout(t, 'queue-consumer-v2', { plan: [{ live: 50 }, { live: 100 }], guards: { graceSeconds: 5, minSample: 10 } });
    await post('/v1/rollouts/queue-consumer-v2/start');
    await sendTraffic(t, 'queue-consumer-v2', 'c1', 100, 10);
    t.clock.advance(6_000);
    await tick();

    // onBreach revert-all and pause: the rollout reverted, or paused, by a guard.
    await createRollout(t, 'token-cleanup-v2', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 }, onBreach: 'revert-all' });
    await createRollout(t, 'ledger-export-v2', { plan: [{ live: 50 }], guards: { graceSeconds: 5, minSample: 10 }, onBreach: 'pause' });
    for (const key of ['token-cleanup-v2', 'ledger-export-v2']) {
      await post(`/v1/rollouts/${key}/start`);
      await sendTraffic(t, key, 'c1', 100, 10);
    }
    t.clock.advance(6_000);
    await tick();

    // A reporter that goes silent past reporterTimeoutSeconds.
    await createRollout(t, 'invoice-sync-v2', { plan: [{ live: 50 }], guards: { graceSeconds: 5, reporterTimeoutSeconds: 10 } });
    await post('/v1/rollouts/invoice-sync-v2/start');
    const second = Math.floor(t.clock.now() / 1000);
    await sendReport(t, {
      sdk: { name: '@rollcall/sdk', version: '0.3.0', instanceId: 'worker-7f3a' },
      watermark: t.clock.now(),
      counts: [{ rollout: 'invoice-sync-v2', cohort: 'c1', path: 'new', second, received: 5, processed: 5, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0 }],
    });
    t.clock.advance(11_000);
    await tick();

    await t.rollcall.services.worker.drain();
    return hook.received.map((request) => verify(secret, request) as SentEvent);
  } finally {
    await hook.close();
    await t.close();
  }
}
