/**
 * Keeps the client's snapshot current. Prefers the SSE stream; while it is
 * down, polls `/v1/sdk/config` with `If-None-Match` and reconnects with
 * exponential backoff (1 s first, jitter, capped at 60 s, reset after a
 * healthy minute). A 401 or 403 stops everything: the key will not start
 * working by itself.
 */
import { backoffDelay, sleep } from '../support/backoff.ts';
import type { ConfigSnapshot } from '@rollcall/protocol';
import { SseParser } from './sse.ts';
import { createStreamEvents } from './stream-events.ts';
import { isSnapshot } from './validate-snapshot.ts';

export class RollcallHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RollcallHttpError';
  }
  /** When the server said when to try again (Retry-After). */
  retryAfterMs: number | undefined = undefined;
  get fatal(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface ConfigSourceOptions {
  url: string;
  sdkKey: string;
  fetch: typeof fetch;
  /** Called with every snapshot the server sends. */
  onSnapshot(snapshot: ConfigSnapshot): void;
  /** Called whenever the server confirmed the snapshot in hand is current (a heartbeat, a 304). */
  onConfirmed(): void;
  /** The first attempt to reach the server failed (the client may fall back to a backup). */
  onUnreachable(error: unknown): void;
  /** Trouble worth an `error` event; `fatal` stops the source. */
  onError(error: unknown, fatal: boolean): void;
  pollIntervalMs: number;
  reconnectFirstMs: number;
  reconnectMaxMs: number;
  /** A stream silent for this long is considered dead (the server sends a heartbeat every 15 s). */
  streamIdleMs: number;
  healthyResetMs: number;
  stream: boolean;
}

export function createConfigSource(options: ConfigSourceOptions) {
  const stopped = new AbortController();
  let etag: string | undefined;
  let current: ConfigSnapshot | null = null;
  let reachedOnce = false;
  let failedOnce = false;
  let polling = false;
  let streaming = false;
  const headers = { authorization: `Bearer ${options.sdkKey}`, 'user-agent': 'rollcall-node-sdk' };

  function noteFailure(error: unknown): void {
    if (error instanceof RollcallHttpError && error.fatal) {
      options.onError(error, true);
      stopped.abort();
      return;
    }
    if (!reachedOnce && !failedOnce) {
      failedOnce = true;
      options.onUnreachable(error);
    }
    options.onError(error, false);
  }

  function accept(body: unknown, tag: string | undefined): void {
    if (!isSnapshot(body)) throw new Error('the server sent something that is not a snapshot');
    reachedOnce = true;
    // The ETag names the snapshot in hand, so a poll after the stream drops answers 304 when nothing changed.
    if (current === null || body.version >= current.version) {
      current = body;
      etag = tag;
    }
    options.onSnapshot(body);
  }

  const events = createStreamEvents({
    current: () => current,
    currentEtag: () => etag,
    accept,
    resync: () => pollOnce(),
    onError: (error) => {
      if (!stopped.signal.aborted) noteFailure(error);
    },
  });

  async function pollOnce(): Promise<void> {
    const res = await options.fetch(`${options.url}/v1/sdk/config`, {
      headers: etag === undefined ? headers : { ...headers, 'if-none-match': etag },
      signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(10_000)]),
    });
    if (res.status === 304) {
      await res.body?.cancel();
      reachedOnce = true;
      options.onConfirmed();
      return;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RollcallHttpError(res.status, `GET /v1/sdk/config answered ${res.status}`);
    }
    const body: unknown = await res.json();
    accept(body, res.headers.get('etag') ?? undefined);
  }

  /** Polls until the stream is back (or forever, with streaming off). */
  async function pollLoop(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      while (!stopped.signal.aborted && !streaming) {
        try {
          await pollOnce();
        } catch (error) {
          if (stopped.signal.aborted) return;
          noteFailure(error);
        }
        await sleep(options.pollIntervalMs, stopped.signal);
      }
    } finally {
      polling = false;
    }
  }

  /** One stream connection, until it ends or fails. */
  async function streamOnce(): Promise<void> {
    const connection = new AbortController();
    const signal = AbortSignal.any([stopped.signal, connection.signal]);
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => connection.abort(new Error('the stream went silent')), options.streamIdleMs);
      idle.unref?.();
    };
    arm();
    try {
      const res = await options.fetch(`${options.url}/v1/sdk/stream?patches=1`, { headers: { ...headers, accept: 'text/event-stream' }, signal });
      if (!res.ok || res.body === null) {
        await res.body?.cancel();
        throw new RollcallHttpError(res.status, `GET /v1/sdk/stream answered ${res.status}`);
      }
      streaming = true;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        arm();
        options.onConfirmed();
        for (const event of parser.push(decoder.decode(value, { stream: true }))) events.handle(event);
      }
    } finally {
      clearTimeout(idle);
      streaming = false;
    }
  }

  async function streamLoop(): Promise<void> {
    let attempt = 0;
    while (!stopped.signal.aborted) {
      const started = performance.now();
      try {
        await streamOnce();
      } catch (error) {
        if (stopped.signal.aborted) return;
        noteFailure(error);
        if (stopped.signal.aborted) return;
      }
      if (performance.now() - started >= options.healthyResetMs) attempt = 0;
      void pollLoop();
      await sleep(backoffDelay(attempt++, options.reconnectFirstMs, options.reconnectMaxMs), stopped.signal);
    }
  }

  return {
    start(): void {
      if (options.stream) void streamLoop();
      else void pollLoop();
    },
    /** Fetches the snapshot once now, outside the loops (used by `ready` when streaming is off). */
    refresh: pollOnce,
    stop(): void {
      stopped.abort();
    },
    get stopped(): boolean {
      return stopped.signal.aborted;
    },
  };
}

export type ConfigSource = ReturnType<typeof createConfigSource>;
