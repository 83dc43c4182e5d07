/**
 * The sender: sealed batches in a queue, each with a `batchId` it keeps
 * across retries, posted gzip-compressed one after another. A batch leaves
 * the queue only once the server acknowledged that very batch; a failure
 * waits out a backoff; 401 and 403 stop it for good; a batch the server will
 * never take (400, 413, 422) is let go rather than block every later one.
 */
import { gzip, randomUUID } from './builtins.ts';
import { backoffDelay } from './backoff.ts';
import { RollcallHttpError } from './config-source.ts';
import type { CountRow, MessageEvent, MismatchSample, NoiseReport, ReportAck, ReportBatch } from './wire.ts';


export interface SenderOptions {
  url: string;
  sdkKey: string;
  fetch: typeof fetch;
  sdk: ReportBatch['sdk'];
  maxBatchEvents: number;
  reportTimeoutMs: number;
  retryFirstMs: number;
  retryMaxMs: number;
  /** The reporter's clock (epoch ms). */
  wallNow(): number;
  onError(error: unknown, fatal: boolean): void;
}

interface Queued {
  batch: ReportBatch;
  events: number;
  body?: Buffer;
}

export function createSender(options: SenderOptions) {
  const queue: Queued[] = [];
  let queuedEvents = 0;
  let sending: Promise<boolean> | null = null;
  let retryAt = 0;
  let attempt = 0;
  let fatal = false;
  /** Set once a window with anything in it was sealed: from then on every window is reported. */
  let reported = false;
  /** The last window's seal: nothing seen before it is still to be sent. */
  let watermark = options.wallNow();

  async function post(item: Queued): Promise<void> {
    item.body ??= await gzip(JSON.stringify(item.batch));
    const res = await options.fetch(`${options.url}/v1/sdk/reports`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.sdkKey}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        // The server moves SDK timestamps onto its own clock by this reading.
        'x-rollcall-clock': String(options.wallNow()),
      },
      body: item.body,
      signal: AbortSignal.timeout(options.reportTimeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RollcallHttpError(res.status, `POST /v1/sdk/reports answered ${res.status}`);
    }
    // Only the server's acknowledgement of this very batch lets it go: a 200 from anything
    // else on the way (a proxy's error page, a truncated answer) is retried like a failure.
    const ack = (await res.json().catch(() => null)) as Partial<ReportAck> | null;
    if (ack?.batchId !== item.batch.batchId) throw new Error(`POST /v1/sdk/reports answered ${res.status} without acknowledging batch ${item.batch.batchId}`);
  }

  /** Sends queued batches in order until the queue is empty or a send fails. */
  async function drain(): Promise<boolean> {
    while (queue.length > 0 && !fatal) {
      if (performance.now() < retryAt) return false;
      const head = queue[0]!;
      try {
        await post(head);
        attempt = 0;
      } catch (error) {
        const status = error instanceof RollcallHttpError ? error.status : 0;
        if (status === 401 || status === 403) {
          fatal = true;
          options.onError(error, true);
          return false;
        }
        options.onError(error, false);
        if (status !== 400 && status !== 413 && status !== 422) {
          retryAt = performance.now() + backoffDelay(attempt++, options.retryFirstMs, options.retryMaxMs);
          return false;
        }
      }
      queue.shift();
      queuedEvents -= head.events;
    }
    return queue.length === 0;
  }

  return {
    /**
     * Seals one window into batches: counts and noise ride in the first, and
     * the events (taken from the front of `messages` and `mismatches`, which
     * are emptied) are split so no batch holds more than maxBatchEvents. The
     * last batch carries the window's watermark (the moment it was sealed);
     * earlier ones the previous window's, since they do not hold all of it.
     * Once anything was reported, an empty window still sends a watermark
     * alone (a heartbeat) when nothing is waiting to go; `final` always does.
     */
    enqueue(counts: CountRow[], messages: MessageEvent[], mismatches: MismatchSample[], noise: NoiseReport[], final = false): void {
      const empty = counts.length === 0 && messages.length === 0 && mismatches.length === 0 && noise.length === 0;
      if (empty && (!reported || (!final && queue.length > 0))) return;
      reported = true;
      const sealedAt = options.wallNow();
      let first = true;
      do {
        const take = Math.max(0, options.maxBatchEvents - (first ? counts.length : 0));
        const batchMessages = messages.splice(0, take);
        const batchMismatches = mismatches.splice(0, Math.max(0, take - batchMessages.length));
        const last = messages.length + mismatches.length === 0;
        const batch: ReportBatch = {
          batchId: randomUUID(),
          sdk: options.sdk,
          sentAt: sealedAt,
          counts: first ? counts : [],
          messages: batchMessages,
          mismatches: batchMismatches,
          noise: first ? noise : [],
          watermark: last ? sealedAt : watermark,
        };
        if (last && final) batch.final = true;
        const events = batchMessages.length + batchMismatches.length;
        queue.push({ batch, events });
        queuedEvents += events;
        first = false;
      } while (messages.length + mismatches.length > 0);
      watermark = sealedAt;
    },

    /** Sends what it can; concurrent calls share the pass in flight. Resolves true once the queue is empty. */
    send(): Promise<boolean> {
      sending ??= drain().finally(() => {
        sending = null;
      });
      return sending;
    },

    /** Events in sealed batches not yet acknowledged. */
    get queuedEvents(): number {
      return queuedEvents;
    },

    /** Sealed batches not yet acknowledged. */
    get batches(): number {
      return queue.length;
    },

    /** True after a 401 or 403: nothing more is sent. */
    get stopped(): boolean {
      return fatal;
    },
  };
}

export type Sender = ReturnType<typeof createSender>;
