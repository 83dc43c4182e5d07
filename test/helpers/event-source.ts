/**
 * An SSE client over fetch and a third-party parser (eventsource-parser), so
 * that a stream is read as any client would read it, not by Rollcall's own
 * SDK parser (sse-client.ts). A refused request gives its JSON body instead.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface EventStream {
  status: number;
  headers: Headers;
  body: unknown;
  events: EventSourceMessage[];
  comments: string[];
  next(timeoutMs?: number): Promise<EventSourceMessage>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openEvents(url: string, headers: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  let taken = 0;
  let wake = () => {};
  const parser = createParser({ onEvent: (e) => (events.push(e), wake()), onComment: (c) => (comments.push(c), wake()) });
  let ended = Promise.resolve();
  let body: unknown = null;
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    ended = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // closed by this side
      }
    })();
  } else body = await res.json();
  return {
    status: res.status,
    headers: res.headers,
    body,
    events,
    comments,
    async next(timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      while (taken === events.length) {
        if (Date.now() > deadline) throw new Error('no event in time');
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 20);
        });
      }
      return events[taken++]!;
    },
    ended,
    close: () => controller.abort(),
  };
}
