/** The three incidents, replayed against a real server through the SDK. */
import { followAudit, log, sleep, until, type World } from './world.ts';

export interface Outcome {
  scenario: string;
  described: boolean;
  happened: string;
  figures: string;
}

const PARTNERS = Array.from({ length: 300 }, (_, i) => `partner-${String(i + 1).padStart(3, '0')}`);
const TYPES = ['invoice.created', 'invoice.paid', 'customer.updated', 'subscription.renewed'];
let sequence = 0;

interface Event {
  id: string;
  partner: string;
  type: string;
}

function nextEvent(prefix: string): Event {
  const n = ++sequence;
  return { id: `${prefix}-${n}`, partner: PARTNERS[(n * 7919) % PARTNERS.length]!, type: TYPES[Math.floor(Math.random() * TYPES.length)]! };
}

/** Calls `send` `perSecond` times a second (in 50 ms slices) until stopped. */
function drive(perSecond: number, send: (n: number) => void): () => void {
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perSecond / 20; i++) send(n++);
  }, 50);
  return () => clearInterval(timer);
}

type Health = { cohorts: { name: string; received: number; compared: number; mismatched: number; failed: number; processed: number; rates: { failure: number | null } }[]; replay: { lost: number; replayed: number } };

export async function mislabelledEvents(world: World): Promise<Outcome> {
  const key = 'webhooks-v2';
  const stopAudit = followAudit(world, key);
  await world.api('POST', '/v1/rollouts', {
    key,
    description: 'webhook handler rewrite: caches one handler per partner, across event types',
    // Each partner's first event cannot show the bug (the cache is empty): 200 comparisons reach past that first round.
    plan: [{ live: 0, shadow: 30, bakeSeconds: 5, minMessages: 200 }, { live: 10 }, { live: 50 }],
    autoAdvance: true,
    guards: { graceSeconds: 2, minSample: 50, maxMismatchRate: 0.01 },
  });
  await world.api('POST', `/v1/rollouts/${key}/start`, { reason: 'shadow 30% of partners first' });
  const oldHandler = (e: Event) => ({ id: e.id, type: e.type, handledAs: e.type });
  const cache = new Map<string, string>();
  const newHandler = (e: Event) => {
    const handler = cache.get(e.partner) ?? e.type; // the bug: the first type a partner sent handles all its events
    cache.set(e.partner, handler);
    return { id: e.id, type: e.type, handledAs: handler };
  };
  const stop = drive(300, (n) => {
    const e = nextEvent('evt');
    void world.instances[n % 3]!.run(key, { partnerId: e.partner, messageId: e.id }, { old: () => oldHandler(e), new: () => newHandler(e) });
  });
  const paused = await until(async () => (await world.api<{ state: string }>('GET', `/v1/rollouts/${key}`)).state === 'paused', 15_000);
  await sleep(1_000); // long enough to see that nothing advances
  stop();
  stopAudit();
  const rollout = await world.api<{ state: string; step: number; live: number }>('GET', `/v1/rollouts/${key}`);
  const health = await world.api<Health>('GET', `/v1/rollouts/${key}/health`);
  const shadow = health.cohorts.find((c) => c.name === 'shadow');
  const samples = await world.api<{ items: { diffs: { path: string; old: unknown; new: unknown }[] }[] }>('GET', `/v1/rollouts/${key}/mismatches`);
  const diff = samples.items[0]?.diffs[0];
  if (diff) log(key, `a mismatch sample: ${diff.path} old ${JSON.stringify(diff.old)} → new ${JSON.stringify(diff.new)}`);
  const breachCallback = world.callbacks.some((c) => c.rollout === key && c.type === 'guard.breached');
  return {
    scenario: 'mislabelled events',
    described: paused && rollout.state === 'paused' && rollout.live === 0 && rollout.step === 0 && (shadow?.mismatched ?? 0) > 0 && breachCallback,
    happened: `shadow diffs caught it; paused at step 1 of 3, never live (${rollout.live}% live)`,
    figures: `${shadow?.mismatched ?? 0} of ${shadow?.compared ?? 0} compared differ`,
  };
}

export async function silentDrops(world: World): Promise<Outcome> {
  const key = 'queue-consumer-v2';
  const stopAudit = followAudit(world, key);
  await world.api('POST', '/v1/rollouts', { key, description: 'queue consumer rewrite: drops some messages, reports success for the rest', plan: [{ live: 20 }, { live: 100 }], guards: { graceSeconds: 2, minSample: 100, maxLossRate: 0.001 } });
  await world.api('POST', `/v1/rollouts/${key}/start`, { reason: 'first cohort: 20% of partners' });
  await until(() => world.instances.every((c) => c.snapshot?.rollouts.some((r) => r.key === key && r.state === 'running') ?? false), 5_000);

  const queue = new Map<string, Event>();
  const dropped: string[] = [];
  const replayed = new Set<string>();
  let firstDropAt = 0;
  const switched: number[] = [];
  world.instances.forEach((instance, i) => {
    instance.onReplay(key, ({ messageId }) => {
      if (queue.has(messageId)) replayed.add(messageId); // re-fetched from the queue and processed by the old path
    });
    instance.on('revert', (event) => {
      if (event.rollout !== key) return;
      switched.push(performance.now());
      log(key, `service instance ${i + 1} routes ${event.cohort ?? 'everything'} to old again (${((performance.now() - firstDropAt) / 1000).toFixed(1)} s after the first drop)`);
    });
  });
  const stop = drive(400, (n) => {
    const instance = world.instances[n % 3]!;
    const e = nextEvent('msg');
    const ref = { partnerId: e.partner, messageId: e.id };
    queue.set(e.id, e);
    instance.received(key, ref);
    if (instance.path(key, e.partner) === 'new' && n % 25 === 0) {
      // The bug: the new consumer acknowledges the message upstream but never processes it.
      if (firstDropAt === 0) {
        firstDropAt = performance.now();
        log(key, 'the new consumer starts dropping 4% of its messages, reporting success for the rest');
      }
      dropped.push(e.id);
      return;
    }
    instance.processed(key, ref);
  });
  const reverted = await until(() => switched.length === 3, 15_000);
  await sleep(500);
  stop();
  const replayedAll = await until(async () => {
    const health = await world.api<Health>('GET', `/v1/rollouts/${key}/health`);
    return health.replay.lost === 0 && health.replay.replayed >= dropped.length && replayed.size >= dropped.length;
  }, 15_000);
  // Losses found after the first announcement go out in one batch when the announcement interval has passed:
  // the summary waits for it, so the receiver hears of every lost message before the demo says how it ended.
  const announced = () => world.callbacks.filter((c) => c.rollout === key && c.type === 'messages.lost').reduce((n, c) => n + (c.count ?? 0), 0);
  const allAnnounced = await until(() => announced() >= dropped.length, 15_000);
  stopAudit();
  const health = await world.api<Health>('GET', `/v1/rollouts/${key}/health`);
  log(key, `replayed ${health.replay.replayed} lost messages through the old path; ${health.replay.lost} still lost`);
  const rollout = await world.api<{ cohorts: { name: string; status: string; revertKind: string }[] }>('GET', `/v1/rollouts/${key}`);
  const c1 = rollout.cohorts.find((c) => c.name === 'c1');
  const callback = world.callbacks.find((c) => c.rollout === key && c.type === 'cohort.reverted');
  const revertSeconds = firstDropAt === 0 || switched.length === 0 ? NaN : (Math.max(...switched) - firstDropAt) / 1000;
  return {
    scenario: 'silent drops',
    described: reverted && replayedAll && allAnnounced && c1?.status === 'reverted' && c1.revertKind === 'breach' && callback !== undefined && health.replay.lost === 0 && world.rejectedCallbacks === 0,
    happened: `c1 reverted by its loss guard; 3 of 3 SDKs switched; callback delivered and verified; lost ids replayed`,
    figures: `${dropped.length} dropped → ${announced()} announced lost (${world.callbacks.filter((c) => c.rollout === key && c.type === 'messages.lost').length} messages.lost) → ${health.replay.replayed} replayed, ${health.replay.lost} still lost; every SDK on old ${revertSeconds.toFixed(1)} s after the first drop (grace 2 s)`,
  };
}

export async function destructiveJob(world: World): Promise<Outcome> {
  const key = 'token-cleanup-v2';
  const stopAudit = followAudit(world, key);
  await world.api('POST', '/v1/rollouts', {
    key,
    description: 'token clean-up job: the new version also invalidates active credentials',
    plan: [{ live: 10, bakeSeconds: 8, minMessages: 150 }, { live: 50 }, { live: 100 }],
    autoAdvance: true,
    guards: { graceSeconds: 2, minSample: 100, maxFailureRateDelta: 0.02 },
  });
  await world.api('POST', `/v1/rollouts/${key}/start`, { reason: 'one cohort of partners first' });
  const valid = new Map(PARTNERS.map((p) => [p, true]));
  const invalidated = new Set<string>();
  const check = (partner: string, n: number) => {
    if (!valid.get(partner)) throw new Error(`HTTP 401 for ${partner}: credentials invalid`);
    if (n % 100 === 0) throw new Error('HTTP 503: upstream busy'); // the ordinary 1% that fails on both paths
  };
  const stop = drive(400, (n) => {
    const e = nextEvent('task');
    void world.instances[n % 3]!.run(key, { partnerId: e.partner, messageId: e.id }, {
      old: () => check(e.partner, n),
      new: () => {
        if (n % 3 === 0 && valid.get(e.partner)) {
          valid.set(e.partner, false); // the bug: an active credential looks expired to the new query
          invalidated.add(e.partner);
        }
        check(e.partner, n);
      },
    }).catch(() => undefined);
  });
  const reverted = await until(async () => (await world.api<{ cohorts: { status: string }[] }>('GET', `/v1/rollouts/${key}`)).cohorts[0]?.status === 'reverted', 15_000);
  await sleep(1_000);
  stop();
  stopAudit();
  const rollout = await world.api<{ step: number; live: number; cohorts: { name: string; status: string; revertKind: string }[] }>('GET', `/v1/rollouts/${key}`);
  const health = await world.api<Health>('GET', `/v1/rollouts/${key}/health`);
  const c1 = health.cohorts.find((c) => c.name === 'c1');
  const baseline = health.cohorts.find((c) => c.name === 'baseline');
  const pct = (v: number | null | undefined) => `${((v ?? 0) * 100).toFixed(1)}%`;
  return {
    scenario: 'destructive job',
    described: reverted && rollout.step === 0 && rollout.cohorts[0]?.revertKind === 'breach' && world.callbacks.some((c) => c.rollout === key && c.type === 'cohort.reverted'),
    happened: `c1 reverted by its failure guard at ${rollout.live}% live; never reached 50%`,
    figures: `failures ${pct(c1?.rates.failure)} in c1 vs ${pct(baseline?.rates.failure)} baseline; ${invalidated.size} of ${PARTNERS.length} partners' credentials hit`,
  };
}
