/** A raw SSE reader over fetch, for testing the stream as any client would see it. */
import { SseParser, type SseEvent } from '../../sdk/src/config/sse.ts';

export interface SseConnection {
  status: number;
  events: SseEvent[];
  /** Raw text received, comments included. */
  raw: () => string;
  next(predicate?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

export async function connectSse(url: string, key: string): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: controller.signal });
  const events: SseEvent[] = [];
  let raw = '';
  let consumed = 0;
  const waiters = new Set<() => void>();
  if (res.ok && res.body) {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    void (async () => {
      const reader = res.body!.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const text = decoder.decode(value, { stream: true });
          raw += text;
          events.push(...parser.push(text));
          for (const w of waiters) w();
        }
      } catch {
        // aborted
      }
    })();
  }
  return {
    status: res.status,
    events,
    raw: () => raw,
    async next(predicate = () => true, timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (consumed < events.length) {
          const e = events[consumed++]!;
          if (predicate(e)) return e;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('no matching SSE event in time');
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, left);
          waiters.add(done);
          function done() {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          }
        });
      }
    },
    close: () => controller.abort(),
  };
}
