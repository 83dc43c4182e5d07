/**
 * The API over HTTP, as the CLI needs it: a bearer key, If-Match, and errors
 * sorted into exit codes (refused, unreachable). The key goes into the
 * Authorization header and nowhere else: no message ever carries it.
 */
import { CliError, EXIT, usageError } from './errors.ts';

const REQUEST_TIMEOUT_MS = 30_000;

export interface RequestOptions {
  body?: unknown;
  /** The rollout version the change is meant for: sent as `If-Match`. */
  ifMatch?: number;
  query?: Record<string, string | number | string[] | undefined>;
}

/** The server's error body, `{ error: { code, message, details? } }`. */
export interface ServerError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

/** Thrown for an HTTP answer that is not 2xx; the exit code says which kind. */
export class ApiError extends CliError {
  readonly server: ServerError;

  constructor(server: ServerError, body: unknown) {
    const unavailable = server.status === 502 || server.status === 503 || server.status === 504;
    super(unavailable ? EXIT.unreachable : EXIT.refused, `${server.message} (${server.status} ${server.code})`, body);
    this.server = server;
  }
}

export interface ApiClient {
  readonly url: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

export function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--url ${JSON.stringify(text)} is not a URL (such as http://127.0.0.1:8787)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be http or https, not ${url.protocol}`);
  return url;
}

function searchOf(query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

async function readError(res: Response): Promise<{ server: ServerError; body: unknown }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code !== undefined) {
      const { code, message = code, details } = body.error;
      return { server: { status: res.status, code, message, details }, body };
    }
  } catch {
    // not the server's JSON: a proxy in between, perhaps
  }
  const message = `the server answered ${res.status} ${res.statusText}`.trim();
  return { server: { status: res.status, code: 'http_error', message }, body: { error: { code: 'http_error', message } } };
}

export function createClient(options: { url: string; key: string | undefined; fetch?: typeof fetch }): ApiClient {
  const base = parseServerUrl(options.url);
  const origin = base.href.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  return {
    url: origin,
    async request(method, path, { body, ifMatch, query } = {}) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.key !== undefined && options.key !== '') headers.authorization = `Bearer ${options.key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`;
      let res: Response;
      try {
        res = await doFetch(origin + path + searchOf(query), {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const why = (error as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (error as Error).message);
        const message = `cannot reach the server at ${origin} (${why})`;
        throw new CliError(EXIT.unreachable, message, { error: { code: 'unreachable', message } });
      }
      if (!res.ok) {
        const { server, body: errorBody } = await readError(res);
        if (server.status === 401 && headers.authorization === undefined) {
          server.message += ': set ROLLCALL_KEY (or pass --key)';
        }
        throw new ApiError(server, errorBody);
      }
      const text = await res.text();
      return (text === '' ? null : JSON.parse(text)) as never;
    },
  };
}

/** Every page of a list endpoint that answers `{ items, nextCursor }`. */
export async function listAll<T>(client: ApiClient, path: string, query: Record<string, string | undefined> = {}, cursorParam = 'after'): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await client.request<{ items: T[]; nextCursor: string | null }>('GET', path, { query: { ...query, limit: 500, [cursorParam]: cursor ?? undefined } });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && cursor !== undefined);
  return items;
}
