/**
 * OFREP change events (the protocol's ADR-0008) over a real socket, read by a
 * third-party SSE parser (eventsource-parser) the way a provider reads them:
 * the bulk answer's `eventStreams` leads to a stream that sends
 * `refetchEvaluation` with the configuration's ETag when a rollout is
 * reverted, here or on another server, and the bulk evaluation asked for with
 * that ETag (`?flagConfigEtag=`) is the reverted one.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionOf } from '@rollcall/protocol';
import { openEvents } from '../../helpers/event-source.ts';
import { startLiveServer, waitFor, type LiveServer } from '../../helpers/live-server.ts';

const partner = 'partner-1';
const refetch = (e: EventSourceMessage) => JSON.parse(e.data) as { type: string; etag: string };

async function bulk(live: LiveServer, query = '', headers: Record<string, string> = {}) {
  const res = await fetch(`${live.url}/ofrep/v1/evaluate/flags${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${live.sdkKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ context: { targetingKey: partner } }),
  });
  return { status: res.status, etag: res.headers.get('etag'), body: res.status === 200 ? ((await res.json()) as any) : null };
}

const flagOf = (answer: { flags: { key: string }[] }, key: string) => answer.flags.find((f) => f.key === key);
const streamUrl = (live: LiveServer, answer: any) => new URL(answer.eventStreams[0].endpoint.requestUri, live.url).href;

let live: LiveServer;
beforeAll(async () => {
  live = await startLiveServer({ heartbeatMs: 100 });
}, 30_000);
afterAll(() => live?.close());

/** A running rollout with `partner` in its live cohort. */
async function liveRollout(server: LiveServer, prefix: string): Promise<string> {
  const key = Array.from({ length: 100 }, (_, i) => `${prefix}-${i}`).find((k) => positionOf(k, partner) < 5000)!;
  expect((await server.api('POST', '/v1/rollouts', { key, plan: [{ live: 50 }] })).status).toBe(201);
  expect((await server.api('POST', `/v1/rollouts/${key}/start`)).status).toBe(200);
  return key;
}

describe('OFREP event stream (ADR-0008)', () => {
  it('sends refetchEvaluation with the new ETag on a revert, and the bulk evaluation with that ETag is the reverted one', async () => {
    const key = await liveRollout(live, 'here');
    const first = await bulk(live);
    expect(first.body.eventStreams).toEqual([{ type: 'sse', endpoint: { requestUri: '/ofrep/v1/event-stream' } }]);
    expect(flagOf(first.body, key)).toMatchObject({ value: 'new', reason: 'SPLIT' });

    const stream = await openEvents(streamUrl(live, first.body), { authorization: `Bearer ${live.sdkKey}` });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // On connect: the configuration the bulk answer came from.
    const hello = await stream.next();
    expect(hello.event).toBe('message');
    expect(refetch(hello)).toEqual({ type: 'refetchEvaluation', etag: first.body.metadata.flagConfigEtag });
    expect(hello.id).toBe(first.body.metadata.flagConfigEtag);

    expect((await live.api('POST', `/v1/rollouts/${key}/revert`, { reason: 'lost messages' })).status).toBe(200);
    const notice = await stream.next();
    const { etag } = refetch(notice);
    expect(notice).toMatchObject({ event: 'message', id: etag });
    expect(refetch(notice)).toEqual({ type: 'refetchEvaluation', etag });
    expect(etag).not.toBe(first.body.metadata.flagConfigEtag);
    // The configuration's ETag is the SDK snapshot's.
    expect((await fetch(`${live.url}/v1/sdk/config`, { headers: { authorization: `Bearer ${live.sdkKey}` } })).headers.get('etag')).toBe(etag);

    // What a provider does next: re-fetch with the event's etag (and its own ETag, which no longer matches).
    const after = await bulk(live, `?flagConfigEtag=${encodeURIComponent(etag)}`, { 'if-none-match': first.etag! });
    expect(after.status).toBe(200);
    expect(after.body.metadata.flagConfigEtag).toBe(etag);
    expect(flagOf(after.body, key)).toMatchObject({ value: 'old', reason: 'DISABLED', metadata: { state: 'reverted' } });
    expect((await bulk(live, `?flagConfigEtag=${encodeURIComponent(etag)}`, { 'if-none-match': after.etag! })).status).toBe(304);
    stream.close();
  });

  it('takes the keys OFREP evaluation takes: Bearer or X-API-Key; 401 without one, 403 for a read key', async () => {
    const url = `${live.url}/ofrep/v1/event-stream`;
    const byHeader = await openEvents(url, { 'x-api-key': live.sdkKey });
    expect(byHeader.status).toBe(200);
    expect(refetch(await byHeader.next()).type).toBe('refetchEvaluation');
    byHeader.close();
    const none = await openEvents(url, {});
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await openEvents(url, { authorization: 'Bearer rc_sdk_wrongwrongwrongwrongwrongwrong00' })).status).toBe(401);
    const read = (await live.api('POST', '/v1/keys', { kind: 'read', name: 'dash' })).body.key as string;
    const refused = await openEvents(url, { authorization: `Bearer ${read}` });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('tells a client reconnecting with Last-Event-ID nothing until the configuration moves past it', async () => {
    const url = `${live.url}/ofrep/v1/event-stream`;
    const etag = (await bulk(live)).body.metadata.flagConfigEtag as string;
    const current = await openEvents(url, { authorization: `Bearer ${live.sdkKey}`, 'last-event-id': etag });
    await waitFor(() => current.comments.length >= 2, 3_000, 'two heartbeats');
    expect(current.events).toEqual([]);
    const behind = await openEvents(url, { authorization: `Bearer ${live.sdkKey}`, 'last-event-id': '"an-older-configuration"' });
    expect(refetch(await behind.next())).toEqual({ type: 'refetchEvaluation', etag });
    await liveRollout(live, 'moved');
    const moved = refetch(await current.next()).etag;
    expect(moved).not.toBe(etag);
    expect(refetch(await behind.next()).etag).toBe(moved);
    current.close();
    behind.close();
  });

  it('sends heartbeats, lets go of a stream its client closed, and ends every stream when the server stops', async () => {
    const server = await startLiveServer({ heartbeatMs: 50 });
    try {
      const before = server.rollcall.services.hub.connected;
      const dropped = await openEvents(`${server.url}/ofrep/v1/event-stream`, { authorization: `Bearer ${server.sdkKey}` });
      const kept = await openEvents(`${server.url}/ofrep/v1/event-stream`, { authorization: `Bearer ${server.sdkKey}` });
      await waitFor(() => dropped.comments.includes('heartbeat'), 3_000, 'a heartbeat');
      await waitFor(() => server.rollcall.services.hub.connected === before + 2, 3_000, 'two streams');
      dropped.close();
      await waitFor(() => server.rollcall.services.hub.connected === before + 1, 3_000, 'the closed stream let go');
      await server.stop();
      await expect(Promise.race([kept.ended.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 3_000))])).resolves.toBe('ended');
      expect(server.rollcall.services.hub.connected).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('OFREP event stream across servers on one database', () => {
  it('hears of a revert made on another server, and a server that has not yet seen the ETag reads it before answering', async () => {
    const key = await liveRollout(live, 'there');
    // `watching` notices other servers' changes as usual; `slow` would not for a minute.
    const dbUrl = live.database.url;
    const watching = await startLiveServer({ databaseUrl: dbUrl });
    const slow = await startLiveServer({ databaseUrl: dbUrl, watchMs: 60_000 });
    try {
      expect(flagOf((await bulk(slow)).body, key)).toMatchObject({ value: 'new' });
      const stream = await openEvents(`${watching.url}/ofrep/v1/event-stream`, { authorization: `Bearer ${watching.sdkKey}` });
      await stream.next();
      expect((await live.api('POST', `/v1/rollouts/${key}/revert`, { reason: 'elsewhere' })).status).toBe(200);
      const { etag } = refetch(await stream.next(5_000));
      stream.close();

      expect(flagOf((await bulk(slow)).body, key)).toMatchObject({ value: 'new' });
      const prompted = await bulk(slow, `?flagConfigEtag=${encodeURIComponent(etag)}`);
      expect(prompted.body.metadata.flagConfigEtag).toBe(etag);
      expect(flagOf(prompted.body, key)).toMatchObject({ value: 'old', reason: 'DISABLED' });
    } finally {
      await watching.close();
      await slow.close();
    }
  });
});
