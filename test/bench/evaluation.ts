/**
 * path() against the anchors, over the same distinct partners in one run:
 * unleash-client `isEnabled` (gradual rollout, groupId = salt) and
 * GrowthBook's `isOn` (a 25% rollout rule hashed on the id).
 */
import { GrowthBookClient } from '@growthbook/growthbook';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { createClient, type ConfigSnapshot } from '@rollcall/sdk';
import { median, progress } from './stats.ts';

export const SNAPSHOT: ConfigSnapshot = {
  version: 9,
  rollouts: [
    {
      key: 'psa-webhooks-v2',
      salt: 'psa-webhooks-v2',
      state: 'running',
      reason: null,
      version: 9,
      step: 2,
      live: 2500,
      shadow: 3500,
      verify: 0,
      cohorts: [
        { name: 'c1', from: 0, to: 500, status: 'active' },
        { name: 'c2', from: 500, to: 2500, status: 'active' },
      ],
      pins: [{ partnerId: 'vip', path: 'old' }],
    },
  ],
};

/** A client that routes from a bootstrap snapshot; every request fails at once, as with a server that is down. */
export function offlineClient(snapshot: ConfigSnapshot = SNAPSHOT, flushIntervalMs = 1_000) {
  return createClient({
    url: 'http://127.0.0.1:9',
    sdkKey: 'bench',
    bootstrap: snapshot,
    fetch: () => Promise.reject(new TypeError('offline')),
    logger: { warn() {}, error() {} },
    flushIntervalMs,
  });
}

// One loop per SDK, each calling its SDK directly, so that no call site is shared
// (a shared callback would be polymorphic and cost every SDK the same extra call).
function timeRollcall(partners: string[], rc: ReturnType<typeof offlineClient>): number {
  let on = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < partners.length; i++) if (rc.path('psa-webhooks-v2', partners[i]!) === 'new') on++;
  return finish(started, on, partners.length);
}

function timeUnleash(partners: string[], unleash: Unleash): number {
  let on = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < partners.length; i++) if (unleash.isEnabled('psa-webhooks-v2', { userId: partners[i]! })) on++;
  return finish(started, on, partners.length);
}

function timeGrowthbook(partners: string[], growthbook: GrowthBookClient): number {
  let on = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < partners.length; i++) if (growthbook.isOn('psa-webhooks-v2', { attributes: { id: partners[i]! } })) on++;
  return finish(started, on, partners.length);
}

function finish(started: bigint, on: number, count: number): number {
  const elapsed = Number(process.hrtime.bigint() - started);
  if (on === -1) console.log(on); // keeps the loop from being optimised away
  return elapsed / count;
}

export async function measureEvaluation(options: { partners: number; rounds: number }) {
  // Ids as a service sees them: parsed out of JSON payloads (flat strings), all distinct.
  const partners: string[] = JSON.parse(JSON.stringify(Array.from({ length: options.partners }, (_, i) => `partner-${i}-${(i * 2654435761) % 100_003}`)));
  const rc = offlineClient();
  await rc.ready();

  const unleash = new Unleash({
    url: 'http://127.0.0.1:9/api',
    appName: 'rollcall-bench',
    disableMetrics: true,
    refreshInterval: 0,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: {
      data: [
        {
          name: 'psa-webhooks-v2',
          enabled: true,
          type: 'release',
          project: 'default',
          stale: false,
          impressionData: false,
          variants: [],
          strategies: [{ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'userId', groupId: 'psa-webhooks-v2' }, constraints: [] }],
        },
      ] as never,
    },
  });
  unleash.on('error', () => {});
  await unleash.start().catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));

  const growthbook = new GrowthBookClient();
  growthbook.initSync({
    payload: { features: { 'psa-webhooks-v2': { defaultValue: false, rules: [{ force: true, coverage: 0.25, hashAttribute: 'id' }] } } },
  });

  // All three agree on the share, so they do comparable work.
  const share = (count: number) => Math.round((count / 10_000) * 100);
  const sample = partners.slice(0, 10_000);
  const shares = {
    rollcall: share(sample.filter((p) => rc.path('psa-webhooks-v2', p) === 'new').length),
    unleash: share(sample.filter((p) => unleash.isEnabled('psa-webhooks-v2', { userId: p })).length),
    growthbook: share(sample.filter((p) => growthbook.isOn('psa-webhooks-v2', { attributes: { id: p } })).length),
  };

  const runs = { path: [] as number[], unleash: [] as number[], growthbook: [] as number[] };
  for (let r = 0; r < options.rounds; r++) {
    progress(`evaluation round ${r + 1}/${options.rounds} over ${partners.length.toLocaleString()} partners`);
    runs.path.push(timeRollcall(partners, rc));
    runs.unleash.push(timeUnleash(partners, unleash));
    runs.growthbook.push(timeGrowthbook(partners, growthbook));
  }
  unleash.destroy();
  await rc.close();
  return { path_ns: median(runs.path), unleash_ns: median(runs.unleash), growthbook_ns: median(runs.growthbook), shares };
}
