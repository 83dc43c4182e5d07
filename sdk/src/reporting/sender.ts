/**
 * The sender: sealed batches in a bounded queue, each with a `batchId` it
 * keeps across retries, posted gzip-compressed one after another. A batch
 * leaves the queue only once the server acknowledged that very batch; a
 * failure waits out a backoff; 401 and 403 stop it for good.
 *
 * Nothing leaves without being counted:
 * - a batch the server will never take (400, 422, or 413 for one that cannot
 *   be split) is handed to `onDropped` as `refused`; a 413 is first split in
 *   two and both halves sent;
 * - a batch that does not fit the queue (`maxQueuedBatches`,
 *   `maxQueuedBytes`) hands its messages and samples to `onDropped` as
 *   `queue_full`, and its counts are merged into a queued batch.
 *
 * While the head of the queue keeps failing, later batches are merged into
 * the one queued last (if the server holds no copy of it: never posted, or
 * answered only with its own 503 `storage_unavailable`, which stores nothing)
 * as long as their messages and samples fit one batch
 * (count rows of one rollout, cohort and path add up and keep the earliest
 * second), so an outage of any length costs a few batches, not one per
 * flush, and catching up afterwards is a few posts.
 */
import { gzip, randomUUID } from '../support/builtins.ts';
import { backoffDelay } from '../support/backoff.ts';
import { RollcallHttpError } from '../config/config-source.ts';
import { mergeNoise, mergeRows } from './merge-rows.ts';
import type { CountRow, DropReason, MessageEvent, MismatchSample, NoiseReport, ReportAck, ReportBatch } from '@rollcall/protocol';

export interface SenderOptions {
  url: string;
  sdkKey: string;
  fetch: typeof fetch;
  sdk: ReportBatch['sdk'];
  maxBatchEvents: number;
  maxQueuedBatches: number;
  maxQueuedBytes: number;
  reportTimeoutMs: number;
  retryFirstMs: number;
  retryMaxMs: number;
  /** The reporter's clock (epoch ms). */
  wallNow(): number;
  onError(error: unknown, fatal: boolean): void;
  /**
   * A batch that will never reach the server: `refused` (all of it) or
   * `queue_full` (its messages and samples; its counts were kept).
   */
  onDropped(batch: ReportBatch, reason: Extract<DropReason, 'refused' | 'queue_full'>): void;
}

interface Queued {
  batch: ReportBatch;
  /** Messages and samples. */
  events: number;
  /** Its JSON, as it will be posted (dropped once compressed). */
  text: string | null;
  /** Its size in bytes as JSON: what the queue's byte cap counts. */
  bytes: number;
  /**
   * Posted, and the server may hold it under its batchId (no answer, or one that does not say
   * nothing was stored): nothing more is merged into it.
   */
  maybeStored: boolean;
  body?: Buffer;
}

/** A Retry-After header (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

function queued(batch: ReportBatch): Queued {
  const text = JSON.stringify(batch);
  return { batch, events: batch.messages.length + batch.mismatches.length, text, bytes: text.length, maybeStored: false };
}

/** The two halves of a batch the server found too large; only the second carries its watermark. */
function halves(batch: ReportBatch): [ReportBatch, ReportBatch] | null {
  const split = <T>(items: T[]): [T[], T[]] => [items.slice(0, Math.ceil(items.length / 2)), items.slice(Math.ceil(items.length / 2))];
  const parts = batch.counts.length + batch.messages.length + batch.mismatches.length + batch.noise.length;
  if (parts < 2) return null;
  const [counts1, counts2] = split(batch.counts);
  const [messages1, messages2] = split(batch.messages);
  const [mismatches1, mismatches2] = split(batch.mismatches);
  const { watermark: _watermark, final: _final, ...first } = batch;
  return [
    { ...first, batchId: randomUUID(), counts: counts1, messages: messages1, mismatches: mismatches1, noise: batch.noise },
    { ...batch, batchId: randomUUID(), counts: counts2, messages: messages2, mismatches: mismatches2, noise: [] },
  ];
}

export function createSender(options: SenderOptions) {
  const queue: Queued[] = [];
  let queuedEvents = 0;
  let queuedBytes = 0;
  let sending: Promise<boolean> | null = null;
  let retryAt = 0;
  let attempt = 0;
  let fatal = false;
  /** Set once a window with anything in it was sealed: from then on every window is reported. */
  let reported = false;
  /** The last window's seal: nothing seen before it is still to be sent. */
  let watermark = options.wallNow();

  async function post(item: Queued): Promise<void> {
    const stored = item.maybeStored;
    item.maybeStored = true;
    if (item.body === undefined) {
      item.body = await gzip(item.text ?? JSON.stringify(item.batch));
      item.text = null;
    }
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
      // The server's own 503 says nothing was stored: the batch may take more while it waits.
      const answer = res.status === 503 ? ((await res.json().catch(() => null)) as { error?: { code?: unknown } } | null) : (await res.body?.cancel(), null);
      if (answer?.error?.code === 'storage_unavailable') item.maybeStored = stored;
      const error = new RollcallHttpError(res.status, `POST /v1/sdk/reports answered ${res.status}`);
      error.retryAfterMs = retryAfterMs(res.headers.get('retry-after'));
      throw error;
    }
    // Only the server's acknowledgement of this very batch lets it go: a 200 from anything
    // else on the way (a proxy's error page, a truncated answer) is retried like a failure.
    const ack = (await res.json().catch(() => null)) as Partial<ReportAck> | null;
    if (ack?.batchId !== item.batch.batchId) throw new Error(`POST /v1/sdk/reports answered ${res.status} without acknowledging batch ${item.batch.batchId}`);
  }

  function push(item: Queued): void {
    queue.push(item);
    queuedEvents += item.events;
    queuedBytes += item.bytes;
  }

  function shift(): void {
    const head = queue.shift()!;
    queuedEvents -= head.events;
    queuedBytes -= head.bytes;
  }

  /** The last queued batch when more may be merged into it: the server holds no copy of it. */
  function openTail(): Queued | null {
    const tail = queue.at(-1);
    return tail === undefined || tail.maybeStored ? null : tail;
  }

  /** Merges a later batch into `into`: counts and noise add up, messages and samples follow its own. */
  function mergeInto(into: Queued, from: ReportBatch): void {
    const batch = into.batch;
    batch.counts = mergeRows(batch.counts, from.counts);
    batch.noise = mergeNoise(batch.noise, from.noise);
    const events = from.messages.length + from.mismatches.length;
    if (events > 0) {
      batch.messages.push(...from.messages);
      batch.mismatches.push(...from.mismatches);
      into.events += events;
      queuedEvents += events;
    }
    batch.sentAt = from.sentAt;
    // What `from` promised, the merged batch now promises: everything `from` held is in it.
    if (from.watermark !== undefined) batch.watermark = Math.max(batch.watermark ?? 0, from.watermark);
    if (from.final === true) batch.final = true;
    const text = JSON.stringify(batch);
    queuedBytes += text.length - into.bytes;
    into.text = text;
    into.bytes = text.length;
    into.body = undefined;
  }

  /**
   * Queues one sealed batch within the caps. While the batch queued last was never posted (the
   * head is failing), a new one merges into it as long as their events fit one batch; what does
   * not fit the queue is dropped and counted, its counts kept. Returns true when it dropped.
   */
  function admit(batch: ReportBatch): boolean {
    const tail = openTail();
    const events = batch.messages.length + batch.mismatches.length;
    if (tail !== null && tail.events + events <= options.maxBatchEvents) return (mergeInto(tail, batch), false);
    const item = queued(batch);
    if (queue.length < options.maxQueuedBatches && queuedBytes + item.bytes <= options.maxQueuedBytes) return (push(item), false);
    options.onDropped({ ...batch, counts: [], noise: [] }, 'queue_full');
    // The drops are counted in the next window: until it is sealed, no watermark passes them.
    const { watermark: _passes, ...rest } = batch;
    const counts: ReportBatch = { ...rest, messages: [], mismatches: [] };
    if (tail !== null) mergeInto(tail, counts);
    else push(queued(counts));
    return true;
  }

  /**
   * After a refusal the drops it caused are counted in the next window: no batch queued before
   * that one may promise (by its watermark) that everything up to it was reported.
   */
  function unpromise(): void {
    for (const item of queue) {
      if (item.batch.watermark === undefined) continue;
      delete item.batch.watermark;
      const text = JSON.stringify(item.batch);
      queuedBytes += text.length - item.bytes;
      item.text = text;
      item.bytes = text.length;
      item.body = undefined;
    }
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
        if (status !== 400 && status !== 413 && status !== 422) {
          options.onError(error, false);
          // A server that says when to come back (503 or 429 with Retry-After) is taken at its word, within the cap.
          const asked = error instanceof RollcallHttpError ? Math.min(error.retryAfterMs ?? 0, options.retryMaxMs) : 0;
          retryAt = performance.now() + Math.max(asked, backoffDelay(attempt++, options.retryFirstMs, options.retryMaxMs));
          return false;
        }
        const split = status === 413 ? halves(head.batch) : null;
        shift();
        if (split !== null) {
          // Both halves go first, in order, before anything queued after them.
          const [first, second] = split.map(queued) as [Queued, Queued];
          queue.unshift(first, second);
          queuedEvents += first.events + second.events;
          queuedBytes += first.bytes + second.bytes;
        } else {
          options.onError(new RollcallHttpError(status, `POST /v1/sdk/reports answered ${status}: the server refused a report; its events are counted as dropped (refused)`), false);
          options.onDropped(head.batch, 'refused');
          unpromise();
        }
        continue;
      }
      shift();
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
      // Once a batch of this window is dropped, the rest of it promises nothing: the drops are counted
      // in the next window, so no watermark may pass them before that window is sealed.
      let promising = true;
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
        if (!promising) delete batch.watermark;
        if (last && final) batch.final = true;
        if (admit(batch)) promising = false;
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

    /** Bytes (as JSON) of sealed batches not yet acknowledged. */
    get queuedBytes(): number {
      return queuedBytes;
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
