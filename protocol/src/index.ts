/**
 * What the server and every client must agree on, and the one reference for
 * a client in another language (docs/protocol.md is written from it):
 *
 * - wire.ts: the report a client sends (`POST /v1/sdk/reports`), its counters and limits;
 * - snapshot.ts: the snapshot every client routes by (`GET /v1/sdk/config`, the stream);
 * - assignment.ts and murmur3.ts: where a partner sits and which path and cohort it gets;
 * - json-path.ts: the path syntax of comparison rules and of the fields a mismatch names;
 * - latency.ts: the latency slots of a report's histograms.
 */
export * from './wire.ts';
export * from './snapshot.ts';
export * from './assignment.ts';
export * from './murmur3.ts';
export * from './json-path.ts';
export * from './latency.ts';
