/**
 * OFREP change events, as the OpenFeature protocol's ADR-0008 ("Server-Sent
 * Events for bulk evaluation changes", open-feature/protocol
 * service/adrs/0008-sse-for-bulk-evaluation-changes.md; the `eventStream`,
 * `sseEvent` and `sseEventData` schemas of service/openapi.yaml) has them:
 *
 * - the bulk answer carries `eventStreams: [{ type: 'sse', endpoint: { requestUri } }]`;
 * - that stream sends, on every change, `event: message`, an `id`, and
 *   `data: {"type":"refetchEvaluation","etag":"…"}`;
 * - the provider then re-fetches the bulk evaluation with `?flagConfigEtag=<etag>`.
 *
 * The etag is the flag configuration's: the SDK snapshot's ETag, one for
 * every partner. It is not the bulk answer's `ETag` header, which is per
 * partner (the ADR keeps the two apart: `flagConfigEtag` is "not a standard
 * HTTP conditional request validator").
 */
import type { z } from 'zod';
import type { PublishedSnapshot } from '../sdk-config/snapshot.ts';
import type { eventStreamSchema, refetchEventSchema } from './schemas.ts';

/** Where the stream is, below the OFREP base path (`/ofrep/v1`). */
export const EVENT_STREAM_PATH = '/event-stream';

/**
 * The `eventStreams` of a bulk answer served at `bulkPath`. An `endpoint`
 * without `origin`, so that the provider joins it to the origin of the base
 * URL it was configured with (ADR-0008), and a proxy in front of Rollcall
 * needs no setting.
 */
export function eventStreamsFor(bulkPath: string): z.output<typeof eventStreamSchema>[] {
  const base = bulkPath.replace(/\/evaluate\/flags\/?$/, '');
  return [{ type: 'sse', endpoint: { requestUri: `${base}${EVENT_STREAM_PATH}` } }];
}

const encoder = new TextEncoder();
const frames = new WeakMap<PublishedSnapshot, Uint8Array>();

/**
 * The notice for one configuration, built once and written as the same
 * buffer to every stream. Its `id` is the etag, so a reconnecting client's
 * `Last-Event-ID` says which configuration it last heard of.
 */
export function refetchFrame(published: PublishedSnapshot): Uint8Array {
  let bytes = frames.get(published);
  if (bytes === undefined) {
    const data: z.output<typeof refetchEventSchema> = { type: 'refetchEvaluation', etag: published.etag };
    // The ADR fixes the envelope's event name; providers route on `data.type`.
    bytes = encoder.encode(`event: message\nid: ${published.etag}\ndata: ${JSON.stringify(data)}\n\n`);
    frames.set(published, bytes);
  }
  return bytes;
}
