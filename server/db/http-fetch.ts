/**
 * The `fetch` the libsql client uses for a libsql server on a plain `http:`
 * URL (sqld beside the servers). Every read and write of a server sharing a
 * database is one such request, so their cost is most of what a quiet
 * server spends: Node's global fetch (WHATWG streams over undici) took about
 * twice the CPU per request of `node:http` on a keep-alive agent, measured
 * side by side on the same sqld. Responses are asked for uncompressed: sqld
 * gzips even a few hundred bytes, and deflating and inflating them cost both
 * processes more CPU than the bytes saved.
 */
import http from 'node:http';

const STATUSES_WITHOUT_BODY = new Set([101, 204, 205, 304]);

/** A `fetch` over `agent` (a keep-alive one by default). */
export function httpFetch(options: { agent?: http.Agent } = {}): (request: Request) => Promise<Response> {
  const agent = options.agent ?? new http.Agent({ keepAlive: true, maxSockets: 16 });
  return async function fetchOverHttp(request: Request): Promise<Response> {
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    headers['accept-encoding'] = 'identity';
    return new Promise<Response>((resolve, reject) => {
      const outgoing = http.request(request.url, { method: request.method, headers, agent, signal: request.signal }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const received = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) if (value !== undefined) received.set(name, Array.isArray(value) ? value.join(', ') : value);
          const status = incoming.statusCode ?? 502;
          resolve(new Response(STATUSES_WITHOUT_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: incoming.statusMessage ?? '', headers: received }));
        });
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  };
}

/** For other remote URLs (TLS: Turso): the global fetch, asking for uncompressed responses. */
export function uncompressedFetch(request: Request): Promise<Response> {
  request.headers.set('accept-encoding', 'identity');
  return fetch(request);
}
