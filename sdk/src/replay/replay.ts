/**
 * The SDK's replay worker: for the rollouts with an `onReplay` handler, it
 * claims lost messages under a lease, runs the handler for each (which
 * re-fetches the message and re-processes it through the old path), and
 * acknowledges each outcome as it comes. A handler that throws or outlives the
 * round's share of the lease is a failure: the message stays lost and is
 * offered again later.
 */
import { RollcallHttpError } from '../config/config-source.ts';

export interface ReplayMessage {
  rollout: string;
  messageId: string;
  partnerId: string;
  cohort: string;
  receivedAt: string | null;
  /** 1 on the first replay of this message. */
  attempt: number;
}

export type ReplayHandler = (message: ReplayMessage) => Promise<void> | void;

export interface ReplayWorkerOptions {
  url: string;
  sdkKey: string;
  instanceId: string;
  fetch: typeof fetch;
  handlers: ReadonlyMap<string, ReplayHandler>;
  leaseSeconds: number;
  batch: number;
  concurrency: number;
}

async function post(options: ReplayWorkerOptions, path: string, body: unknown): Promise<unknown> {
  const res = await options.fetch(`${options.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.sdkKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new RollcallHttpError(res.status, `POST ${path} answered ${res.status}`);
  }
  return res.json();
}

function withTimeout(work: Promise<void> | void, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the replay handler did not finish within ${ms} ms`)), ms);
    timer.unref();
    Promise.resolve(work).then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * One round: claim, replay, acknowledge. Each message is acknowledged as it
 * finishes, and the round ends with its lease: no handler gets longer than
 * what is left of 60 % of the lease (the rest is for the acknowledgements), and a message is not started when what
 * is left is under twice the slowest handler of the round so far. What is
 * not started stays leased until the lease runs out, then any instance claims
 * it again; so a slow round never acknowledges after its lease, when another
 * instance may already have claimed and replayed the same ids. Returns how
 * many messages it claimed.
 */
export async function replayRound(options: ReplayWorkerOptions): Promise<number> {
  const rollouts = [...options.handlers.keys()];
  if (rollouts.length === 0) return 0;
  const asked = performance.now();
  const claimed = (await post(options, '/v1/sdk/replay/claim', {
    instanceId: options.instanceId,
    rollouts,
    limit: options.batch,
    leaseSeconds: options.leaseSeconds,
  })) as { items: ReplayMessage[] };
  // Handlers get until 60 % of the lease: the rest is for their acknowledgements to arrive within it.
  const roundEnds = asked + options.leaseSeconds * 600;
  let next = 0;
  let slowest = 0;
  let failed: unknown = null;
  async function worker(): Promise<void> {
    while (next < claimed.items.length && failed === null) {
      const left = roundEnds - performance.now();
      if (left <= 0 || left < 2 * slowest) return;
      const message = claimed.items[next++]!;
      const handler = options.handlers.get(message.rollout);
      const began = performance.now();
      let result: { rollout: string; messageId: string; ok: boolean; error?: string };
      try {
        if (handler === undefined) throw new Error('no replay handler registered');
        await withTimeout(handler(message), left);
        result = { rollout: message.rollout, messageId: message.messageId, ok: true };
      } catch (error) {
        result = { rollout: message.rollout, messageId: message.messageId, ok: false, error: (error instanceof Error ? error.message : String(error)).slice(0, 500) };
      }
      slowest = Math.max(slowest, performance.now() - began);
      try {
        await post(options, '/v1/sdk/replay/ack', { instanceId: options.instanceId, items: [result] });
      } catch (error) {
        // The server is not taking acknowledgements: stop starting messages; the round ends with the others.
        failed ??= error;
      }
    }
  }
  // Every worker finishes (none is left running unseen) before the round reports how it went.
  await Promise.all(Array.from({ length: Math.min(options.concurrency, claimed.items.length) }, worker));
  if (failed !== null) throw failed;
  return claimed.items.length;
}

/** Rounds while full pages come back, one pass at a time: what the client's replay timer runs. */
export function createReplayLoop(options: Omit<ReplayWorkerOptions, 'batch'> & { stopped(): boolean; onError(error: unknown): void }) {
  const BATCH = 50;
  let replaying: Promise<void> | null = null;

  async function loop(): Promise<void> {
    // Keep claiming while full pages come back; stop at the first short one or error.
    for (;;) {
      if (options.stopped() || options.handlers.size === 0) return;
      const claimed = await replayRound({ ...options, batch: BATCH });
      if (claimed < BATCH) return;
    }
  }

  return {
    /** Starts a pass unless one is under way or there is nothing to replay. */
    tick(): void {
      if (options.handlers.size === 0 || replaying !== null) return;
      replaying = loop()
        .catch(options.onError)
        .finally(() => {
          replaying = null;
        });
    },
    /** Resolves when the pass under way (if any) has ended. */
    async idle(): Promise<void> {
      await replaying;
    },
  };
}
