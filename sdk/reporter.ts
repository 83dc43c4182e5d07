/**
 * Accounting on the SDK side: counters per rollout, cohort and path for the
 * current window, the messages still in flight, and the queue of sealed
 * batches. Every flush window the counters and the id-level events are
 * sealed into batches (each with a `batchId` kept across retries) and sent,
 * gzip-compressed, one after another. Buffers are bounded: an event that
 * does not fit is counted as `dropped`, never silently lost.
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { backoffDelay } from './backoff.ts';
import { RollcallHttpError } from './config-source.ts';
import { latencySlot, SLOTS, sparse } from './latency.ts';
import type { Path } from './snapshot.ts';
import { wireId, type CountRow, type MessageEvent, type MismatchSample, type ReportAck, type ReportBatch } from './wire.ts';

const gzipAsync = promisify(gzip);

export interface Cell {
  readonly rollout: string;
  readonly cohort: string;
  readonly path: Path;
  received: number;
  processed: number;
  failed: number;
  compared: number;
  mismatched: number;
  skipped: number;
  dropped: number;
  samples: number;
  latency: Uint32Array | null;
  candidateLatency: Uint32Array | null;
  dirty: boolean;
  /** Unix second of this window's first event in the cell: the bucket its counts go to. */
  second: number;
}

const OPEN = 0;
const REPORTED = 1;
const DONE = 2;

/**
 * A message received and not yet settled. While the server has not heard of
 * it, it sits in an intrusive list, so a message settled within its window
 * is unlinked at once and dies young (cheap for the garbage collector).
 */
export interface InFlight {
  readonly cell: Cell;
  readonly messageId: string;
  readonly partnerId: string;
  /** performance.now() at receipt, whole milliseconds (a small integer: no allocation). */
  readonly receivedAt: number;
  state: number;
  prev: InFlight | null;
  next: InFlight | null;
}

export interface ReporterOptions {
  url: string;
  sdkKey: string;
  fetch: typeof fetch;
  sdk: ReportBatch['sdk'];
  maxBufferedEvents: number;
  maxBatchEvents: number;
  maxSamplesPerWindow: number;
  reportTimeoutMs: number;
  retryFirstMs: number;
  retryMaxMs: number;
  onError(error: unknown, fatal: boolean): void;
  onDropped(): void;
}

interface Queued {
  batch: ReportBatch;
  events: number;
  body?: Buffer;
}

export function createReporter(options: ReporterOptions) {
  const wallBase = Date.now() - performance.now();
  const wall = (monotonic: number) => Math.round(wallBase + monotonic);
  const cells = new Map<string, Map<string, Cell[]>>();
  const PATH_INDEX: Record<Path, number> = { old: 0, new: 1, shadow: 2 };
  let dirty: Cell[] = [];
  // The unreported, unsettled messages: a doubly linked list, newest at the head.
  let head: InFlight | null = null;
  /** The oldest: where reporting open messages starts. */
  let tail: InFlight | null = null;

  function unlink(record: InFlight): void {
    if (record.prev !== null) record.prev.next = record.next;
    else head = record.next;
    if (record.next !== null) record.next.prev = record.prev;
    else tail = record.prev;
    record.prev = record.next = null;
  }
  // Messages received through `received()`, by rollout and id: a dictionary object rather
  // than a Map, because a Map with this churn (an add and a delete per message) keeps
  // rehashing into tables linked each from the one before, and once one is promoted the
  // scavenger copies every later one (measured: 1.4-1.7 MB promoted per scavenge and
  // 4-5 ms pauses, against 0-9 KB and 1.5 ms with the dictionary).
  const manual = new Map<string, Record<string, InFlight | undefined>>();
  let messages: MessageEvent[] = [];
  let mismatches: MismatchSample[] = [];
  let noise = new Map<string, Set<string>>();
  const queue: Queued[] = [];
  let queuedEvents = 0;
  let sending: Promise<boolean> | null = null;
  let retryAt = 0;
  let attempt = 0;
  let fatal = false;
  let open = 0;

  const buffered = () => messages.length + mismatches.length + queuedEvents;

  function touch(cell: Cell): void {
    if (!cell.dirty) {
      cell.dirty = true;
      // The bucket is the second of the cell's first event, never earlier: counts must not
      // land before the cohort they were routed to existed.
      cell.second = Math.floor(Date.now() / 1000);
      dirty.push(cell);
    }
  }

  /** The counters for one rollout, cohort and path: two map lookups, no allocation once created. */
  function cell(rollout: string, cohort: string, path: Path): Cell {
    let byCohort = cells.get(rollout);
    if (byCohort === undefined) cells.set(rollout, (byCohort = new Map()));
    let byPath = byCohort.get(cohort);
    if (byPath === undefined) byCohort.set(cohort, (byPath = []));
    const index = PATH_INDEX[path];
    let found = byPath[index];
    if (found === undefined) {
      found = { rollout, cohort, path, received: 0, processed: 0, failed: 0, compared: 0, mismatched: 0, skipped: 0, dropped: 0, samples: 0, latency: null, candidateLatency: null, dirty: false, second: 0 };
      byPath[index] = found;
    }
    return found;
  }

  function pushMessage(target: Cell, event: MessageEvent): void {
    if (buffered() >= options.maxBufferedEvents) {
      target.dropped++;
      touch(target);
      options.onDropped();
      return;
    }
    messages.push(event);
  }

  function event(record: InFlight, status: MessageEvent['status'], at: number, error?: string): MessageEvent {
    const e: MessageEvent = {
      rollout: record.cell.rollout,
      messageId: wireId(record.messageId),
      partnerId: wireId(record.partnerId),
      cohort: record.cell.cohort,
      path: record.cell.path,
      status,
      receivedAt: wall(record.receivedAt),
      at: wall(at),
    };
    if (error !== undefined) e.error = error.slice(0, 500);
    return e;
  }

  function recordLatency(target: Cell, ms: number, candidate: boolean): void {
    const histogram = candidate ? (target.candidateLatency ??= new Uint32Array(SLOTS)) : (target.latency ??= new Uint32Array(SLOTS));
    histogram[latencySlot(ms)]!++;
  }

  function begin(target: Cell, messageId: string, partnerId: string, now: number): InFlight {
    target.received++;
    touch(target);
    const record: InFlight = { cell: target, messageId, partnerId, receivedAt: Math.floor(now), state: OPEN, prev: null, next: head };
    if (head !== null) head.prev = record;
    else tail = record;
    head = record;
    open++;
    return record;
  }

  /** Settles a message; `latencyMs` is measured by the caller, or from receipt when omitted. */
  function settle(record: InFlight, ok: boolean, now: number, error?: string, latencyMs?: number): void {
    if (record.state === DONE) return;
    if (record.state === OPEN) unlink(record);
    open--;
    const target = record.cell;
    if (ok) target.processed++;
    else target.failed++;
    touch(target);
    recordLatency(target, latencyMs ?? now - record.receivedAt, false);
    // Failures always travel by id (they can be listed); a success by id only if the
    // server already heard of the message as open.
    if (!ok || record.state === REPORTED) pushMessage(target, event(record, ok ? 'processed' : 'failed', now, error));
    record.state = DONE;
  }

  function sealCounts(): CountRow[] {
    const rows: CountRow[] = [];
    for (const c of dirty) {
      const row: CountRow = {
        rollout: c.rollout,
        cohort: c.cohort,
        path: c.path,
        second: c.second,
        received: c.received,
        processed: c.processed,
        failed: c.failed,
        compared: c.compared,
        mismatched: c.mismatched,
        skipped: c.skipped,
        dropped: c.dropped,
      };
      const latency = c.latency && sparse(c.latency);
      const candidateLatency = c.candidateLatency && sparse(c.candidateLatency);
      if (latency) row.latency = latency;
      if (candidateLatency) row.candidateLatency = candidateLatency;
      rows.push(row);
      c.received = c.processed = c.failed = c.compared = c.mismatched = c.skipped = c.dropped = c.samples = 0;
      c.latency?.fill(0);
      c.candidateLatency?.fill(0);
      c.dirty = false;
    }
    dirty = [];
    return rows;
  }

  /** Names every still-open message the server has not heard of, as far as the buffer allows. */
  function reportOpen(): void {
    let capacity = options.maxBufferedEvents - buffered();
    // Oldest first: from the tail towards the head.
    let record = tail;
    while (record !== null && capacity > 0) {
      const newer: InFlight | null = record.prev;
      messages.push(event(record, 'open', record.receivedAt));
      record.state = REPORTED;
      unlink(record);
      capacity--;
      record = newer;
    }
  }

  function seal(): void {
    const counts = sealCounts();
    reportOpen();
    const noiseReports = [...noise].map(([rollout, paths]) => ({ rollout, paths: [...paths] }));
    noise = new Map();
    if (counts.length === 0 && messages.length === 0 && mismatches.length === 0 && noiseReports.length === 0) return;
    // Counts and noise ride in the first batch; events are split so no batch exceeds maxBatchEvents.
    let first = true;
    do {
      const take = Math.max(0, options.maxBatchEvents - (first ? counts.length : 0));
      const batchMessages = messages.slice(0, take);
      const batchMismatches = mismatches.slice(0, Math.max(0, take - batchMessages.length));
      messages = messages.slice(batchMessages.length);
      mismatches = mismatches.slice(batchMismatches.length);
      const batch: ReportBatch = {
        batchId: randomUUID(),
        sdk: options.sdk,
        sentAt: Date.now(),
        counts: first ? counts : [],
        messages: batchMessages,
        mismatches: batchMismatches,
        noise: first ? noiseReports : [],
      };
      const events = batchMessages.length + batchMismatches.length;
      queue.push({ batch, events });
      queuedEvents += events;
      first = false;
    } while (messages.length + mismatches.length > 0);
  }

  async function post(item: Queued): Promise<void> {
    item.body ??= await gzipAsync(JSON.stringify(item.batch));
    const res = await options.fetch(`${options.url}/v1/sdk/reports`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.sdkKey}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        // The server moves SDK timestamps onto its own clock by this reading.
        'x-rollcall-clock': String(Date.now()),
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
        if (status === 400 || status === 413 || status === 422) {
          // The server will never take this batch; keeping it would block every later one.
          options.onError(error, false);
        } else {
          options.onError(error, false);
          retryAt = performance.now() + backoffDelay(attempt++, options.retryFirstMs, options.retryMaxMs);
          return false;
        }
      }
      queue.shift();
      queuedEvents -= head.events;
    }
    return queue.length === 0;
  }

  function send(): Promise<boolean> {
    sending ??= drain().finally(() => {
      sending = null;
    });
    return sending;
  }

  return {
    cell,
    begin,
    settle,
    recordLatency,
    touch,

    /** `received()` from the host: remembered by id until processed() or failed(). */
    receivedById(target: Cell, messageId: string, partnerId: string, now: number): void {
      let byId = manual.get(target.rollout);
      if (byId === undefined) manual.set(target.rollout, (byId = Object.create(null) as Record<string, InFlight | undefined>));
      if (byId[messageId] !== undefined) return;
      byId[messageId] = begin(target, messageId, partnerId, now);
    },

    /**
     * `processed()` / `failed()` from the host. A message this process did not
     * receive (another process did) is counted in `fallback` and sent by id.
     */
    settleById(rollout: string, messageId: string, partnerId: string, ok: boolean, now: number, fallback: () => Cell, error?: string): void {
      const byId = manual.get(rollout);
      const record = byId?.[messageId];
      if (record !== undefined) {
        delete byId![messageId];
        settle(record, ok, now, error);
        return;
      }
      const target = fallback();
      if (ok) target.processed++;
      else target.failed++;
      touch(target);
      const e: MessageEvent = { rollout, messageId: wireId(messageId), partnerId: wireId(partnerId), cohort: target.cohort, path: target.path, status: ok ? 'processed' : 'failed', at: wall(now) };
      if (error !== undefined) e.error = error.slice(0, 500);
      pushMessage(target, e);
    },

    /** Whether a mismatch in this cell would be kept as a sample this window (at most 20 are). */
    wantsSample(target: Cell): boolean {
      return target.samples < options.maxSamplesPerWindow;
    },

    /** A comparison: `mismatch` with its sample, or without one when the window already has enough. */
    compared(target: Cell, sample: MismatchSample | null, candidateMs: number | null, mismatchWithoutSample = false): void {
      target.compared++;
      if (candidateMs !== null) recordLatency(target, candidateMs, true);
      if (mismatchWithoutSample) target.mismatched++;
      if (sample !== null) {
        target.mismatched++;
        if (target.samples < options.maxSamplesPerWindow) {
          target.samples++;
          if (buffered() >= options.maxBufferedEvents) {
            target.dropped++;
            options.onDropped();
          } else {
            mismatches.push(sample);
          }
        }
      }
      touch(target);
    },

    skipped(target: Cell): void {
      target.skipped++;
      touch(target);
    },

    noise(rollout: string, paths: string[]): void {
      let set = noise.get(rollout);
      if (set === undefined) noise.set(rollout, (set = new Set()));
      for (const p of paths) set.add(p);
    },

    /** Seals what is buffered into batches and sends what it can; never throws. */
    async flush(): Promise<boolean> {
      if (fatal) return false;
      seal();
      return send();
    },

    /** Not yet acknowledged: events and touched cells of the current window, and sealed batches (a batch of counts alone counts as one). */
    get pending(): number {
      return buffered() + dirty.length + queue.length;
    },

    /** Messages received and not settled. */
    get inFlight(): number {
      return open;
    },

    get stopped(): boolean {
      return fatal;
    },

    wall,
  };
}

export type Reporter = ReturnType<typeof createReporter>;
