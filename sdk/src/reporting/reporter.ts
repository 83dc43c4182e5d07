/**
 * Accounting on the SDK side, wired from three parts as LaunchDarkly's event
 * pipeline is: the window's counters (counters.ts), the messages in flight
 * (in-flight.ts) and the sender (sender.ts). This file keeps the id-level
 * events between flushes and decides what travels by id. Buffers are
 * bounded: an event that does not fit is counted as `dropped`, never
 * silently lost.
 */
import { createCounters, type Cell } from './counters.ts';
import { createInFlight, DONE, REPORTED, type InFlight } from './in-flight.ts';
import { createSender } from './sender.ts';
import { COUNTERS, wireId, type CountRow, type DropReason, type MessageEvent, type MismatchSample, type ReportBatch } from '@rollcall/protocol';

export type { Cell } from './counters.ts';
export type { InFlight } from './in-flight.ts';

export interface ReporterOptions {
  url: string;
  sdkKey: string;
  fetch: typeof fetch;
  sdk: ReportBatch['sdk'];
  maxBufferedEvents: number;
  maxBatchEvents: number;
  maxQueuedBatches: number;
  maxQueuedBytes: number;
  maxSamplesPerWindow: number;
  /** Ids received by `received()` and already reported, remembered for a `processed()` here at most (in-flight.ts; no bound when omitted). */
  maxRememberedIds?: number;
  reportTimeoutMs: number;
  retryFirstMs: number;
  retryMaxMs: number;
  onError(error: unknown, fatal: boolean): void;
  /** Events were dropped (counted, and reported to the server as dropped). */
  onDropped(reason: DropReason, count: number): void;
}

export function createReporter(options: ReporterOptions) {
  // The reporter's one clock: epoch ms read off the monotonic clock, so durations and
  // timestamps agree, and the x-rollcall-clock reading matches the times it corrects.
  const wallBase = Date.now() - performance.now();
  const wall = (monotonic: number) => Math.round(wallBase + monotonic);
  const wallNow = () => wall(performance.now());
  const counters = createCounters(wallNow);
  const inFlight = createInFlight(options.maxRememberedIds);
  const sender = createSender({ ...options, wallNow, onDropped: dropBatch });
  const { touch, recordLatency } = counters;
  const messages: MessageEvent[] = [];
  const mismatches: MismatchSample[] = [];
  /** The cell each buffered sample was counted in (a sample names no path). */
  const sampleCells = new WeakMap<MismatchSample, Cell>();
  /** Counter increments in refused reports, by counter: what the server will never count. */
  const refused = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<(typeof COUNTERS)[number], number>;

  function drop(target: Cell, reason: DropReason, n: number): void {
    if (n <= 0) return;
    counters.drop(target, reason, n);
    options.onDropped(reason, n);
  }

  /**
   * A refused count row: its counter increments are dropped (`refused`) in its cell; the drops it
   * carried travel again in the next window, counted once.
   */
  function refuseRow(row: CountRow): void {
    const target = counters.cell(row.rollout, row.cohort, row.path);
    let carried = 0;
    for (const [reason, n] of Object.entries(row.droppedBy ?? {}) as [DropReason, number][]) {
      counters.drop(target, reason, n);
      carried += n;
    }
    counters.drop(target, 'refused', row.dropped - carried);
    let lost = 0;
    for (const c of COUNTERS) {
      if (c === 'dropped') continue;
      refused[c] += row[c];
      lost += row[c];
    }
    drop(target, 'refused', lost);
  }

  /** A batch that will never reach the server: every event it held is counted as dropped where it belongs. */
  function dropBatch(batch: ReportBatch, reason: 'refused' | 'queue_full'): void {
    for (const row of batch.counts) refuseRow(row);
    for (const m of batch.messages) drop(counters.cell(m.rollout, m.cohort, m.path), reason, 1);
    for (const s of batch.mismatches) drop(sampleCells.get(s) ?? counters.cell(s.rollout, s.cohort, s.authoritative), reason, 1);
  }
  /** Per rollout this window: double runs of the old path, and in how many each field differed. */
  let noise = new Map<string, { runs: number; paths: Map<string, number> }>();

  const buffered = () => messages.length + mismatches.length + sender.queuedEvents;
  let fullFlush = false;

  /** A full batch is sent at once, not at the next flush: once per turn of the event loop. */
  function sendIfFull(): void {
    if (fullFlush || messages.length + mismatches.length < options.maxBatchEvents) return;
    fullFlush = true;
    setImmediate(() => {
      fullFlush = false;
      void flush();
    }).unref();
  }

  /** Seals what is buffered into batches and sends what it can; never throws. `final`: the last flush before closing. */
  async function flush(final = false): Promise<boolean> {
    if (sender.stopped) return false;
    seal(final);
    return sender.send();
  }

  function pushMessage(target: Cell, event: MessageEvent): void {
    if (buffered() >= options.maxBufferedEvents) return drop(target, 'buffer_full', 1);
    messages.push(event);
    sendIfFull();
  }

  /** A message event as it travels; `receivedAt` (monotonic) only when this process saw the receipt. */
  function event(target: Cell, messageId: string, partnerId: string, status: MessageEvent['status'], at: number, receivedAt?: number, error?: string): MessageEvent {
    const { rollout, cohort, path } = target;
    const e: MessageEvent =
      receivedAt === undefined
        ? { rollout, messageId: wireId(messageId), partnerId: wireId(partnerId), cohort, path, status, at: wall(at) }
        : { rollout, messageId: wireId(messageId), partnerId: wireId(partnerId), cohort, path, status, receivedAt: wall(receivedAt), at: wall(at) };
    if (error !== undefined) e.error = error.slice(0, 500);
    return e;
  }

  const recordEvent = (record: InFlight, status: MessageEvent['status'], at: number, error?: string) =>
    event(record.cell, record.messageId, record.partnerId, status, at, record.receivedAt, error);

  function begin(target: Cell, messageId: string, partnerId: string, now: number): InFlight {
    target.received++;
    touch(target);
    return inFlight.begin(target, messageId, partnerId, now);
  }

  /** Settles a message; `latencyMs` is measured by the caller, or from receipt when omitted. */
  function settle(record: InFlight, ok: boolean, now: number, error?: string, latencyMs?: number): void {
    const reported = record.state === REPORTED;
    if (!inFlight.settle(record)) return;
    const target = record.cell;
    if (ok) target.processed++;
    else target.failed++;
    touch(target);
    recordLatency(target, latencyMs ?? now - record.receivedAt, false);
    // Failures always travel by id (they can be listed); a success by id only if the
    // server already heard of the message as open.
    if (!ok || reported) pushMessage(target, recordEvent(record, ok ? 'processed' : 'failed', now, error));
    record.state = DONE;
  }

  /**
   * Seals the window: counts, every still-open message the server has not heard of, noise. Open
   * messages beyond the buffer's room are counted as dropped (`buffer_full`) before the counts are
   * sealed, so the window's watermark never passes a message that was neither sent nor counted.
   */
  function seal(final: boolean): void {
    inFlight.reportOldest(
      options.maxBufferedEvents - buffered(),
      (record) => messages.push(recordEvent(record, 'open', record.receivedAt)),
      (record) => drop(record.cell, 'buffer_full', 1),
    );
    const counts = counters.seal();
    const noiseReports = [...noise].map(([rollout, { runs, paths }]) => ({ rollout, paths: [...paths.keys()], runs, counts: [...paths.values()] }));
    noise = new Map();
    sender.enqueue(counts, messages, mismatches, noiseReports, final);
  }

  return {
    cell: counters.cell,
    begin,
    settle,
    recordLatency,
    touch,

    /** `received()` from the host: remembered by id until processed() or failed(). */
    receivedById(target: Cell, messageId: string, partnerId: string, now: number): void {
      if (inFlight.has(target.rollout, messageId)) return;
      inFlight.remember(target.rollout, messageId, begin(target, messageId, partnerId, now));
    },

    /**
     * `processed()` / `failed()` from the host. A message this process did not
     * receive (another process did) is counted in `fallback` and sent by id.
     */
    settleById(rollout: string, messageId: string, partnerId: string, ok: boolean, now: number, fallback: () => Cell, error?: string): void {
      const record = inFlight.take(rollout, messageId);
      if (record !== undefined) {
        settle(record, ok, now, error);
        return;
      }
      const target = fallback();
      if (ok) target.processed++;
      else target.failed++;
      touch(target);
      pushMessage(target, event(target, messageId, partnerId, ok ? 'processed' : 'failed', now, undefined, error));
    },

    /** Whether a mismatch in this cell would be kept as a sample this window (at most 20 are). */
    wantsSample(target: Cell): boolean {
      return target.samples < options.maxSamplesPerWindow;
    },

    /**
     * A comparison; `paths` (the fields that differ) when it is a mismatch, with its sample
     * when the window still keeps one.
     */
    compared(target: Cell, sample: MismatchSample | null, candidateMs: number | null, paths: readonly string[] | null = null): void {
      target.compared++;
      if (candidateMs !== null) recordLatency(target, candidateMs, true);
      if (paths !== null) {
        target.mismatched++;
        counters.recordDifference(target, paths);
      }
      if (sample !== null) {
        if (target.samples < options.maxSamplesPerWindow) {
          target.samples++;
          if (buffered() >= options.maxBufferedEvents) drop(target, 'buffer_full', 1);
          else {
            mismatches.push(sample);
            sampleCells.set(sample, target);
            sendIfFull();
          }
        }
      }
      touch(target);
    },

    skipped(target: Cell): void {
      target.skipped++;
      touch(target);
    },

    /** Noise learning: a double run of the old path and the fields that differed (or `null`: learning is on, no double run this time). */
    noise(rollout: string, paths: readonly string[] | null): void {
      let learned = noise.get(rollout);
      if (learned === undefined) noise.set(rollout, (learned = { runs: 0, paths: new Map() }));
      if (paths === null) return;
      learned.runs++;
      for (const p of paths) learned.paths.set(p, (learned.paths.get(p) ?? 0) + 1);
    },

    flush,

    /** Not yet acknowledged: events and touched cells of the current window, and sealed batches (a batch of counts alone counts as one). */
    get pending(): number {
      return buffered() + counters.touched + sender.batches;
    },

    /** Counter increments the server refused for good, by counter (each also counted as `dropped`). */
    refused: refused as Readonly<typeof refused>,

    /** Bytes (as JSON) of sealed batches not yet acknowledged. */
    get queuedBytes(): number {
      return sender.queuedBytes;
    },

    /** Messages received and not settled (nor forgotten: in-flight.ts). */
    get inFlight(): number {
      return inFlight.open;
    },

    /** Ids remembered for a settlement here and already reported: at most `maxRememberedIds`. */
    get handedOff(): number {
      return inFlight.handedOff;
    },

    get stopped(): boolean {
      return sender.stopped;
    },

    wall,
    /** Now, on the reporter's clock (epoch ms). */
    wallNow,
  };
}

export type Reporter = ReturnType<typeof createReporter>;
