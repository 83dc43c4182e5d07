/**
 * The OpenAPI 3.1 description, generated from the routes themselves: the zod
 * schemas the validators run (`jsonBody`, `queryOf`, `paramsOf` carry theirs),
 * the response schemas named in `responses.ts`, and a `describe()` note on
 * each route. Nothing is written twice, so the document cannot drift from
 * what the server checks and answers.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { apiSchemas, named } from './responses.ts';

const DOC = Symbol.for('rollcall.openapi');

/** The error statuses an operation may answer besides those its shape implies (see `errorStatuses`). */
export type ErrorStatus = keyof typeof ERRORS;

export interface RouteDoc {
  summary?: string;
  description?: string;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** Served without a key. */
  public?: boolean;
  /** The group it is listed under (by default the first path segment after /v1). */
  tag?: string;
  /** The success status and what it returns (200, "OK" by default). */
  success?: { status: number; description: string; contentType?: string };
  /** Another success status answering the same body (a create's dry run answers 200, not 201). */
  alsoSuccess?: { status: number; description: string };
  /** The success body (JSON), a schema named in `responses.ts`. */
  response?: z.ZodType;
  /** Error statuses beyond those implied: 409 for a route whose rules can refuse, 400 for one that checks more than its schemas. */
  errors?: readonly ErrorStatus[];
  /** Answers without storage (no 503). */
  storage?: false;
  /** Answers 304 to an If-None-Match naming the current ETag. */
  notModified?: boolean;
  /** Every response, by status, when the route describes its own (OFREP follows its protocol's). */
  responses?: Record<string, unknown>;
  /** Security requirements other than the bearer key alone. */
  security?: Record<string, string[]>[];
}

type Documented = { [DOC]?: RouteDoc };

/** Attaches documentation to a middleware or handler. */
export function withDoc<T extends object>(fn: T, doc: RouteDoc): T {
  const existing = (fn as Documented)[DOC] ?? {};
  (fn as Documented)[DOC] = { ...existing, ...doc };
  return fn;
}

/** A pass-through middleware that documents its route. */
export function describe(doc: RouteDoc | string): MiddlewareHandler {
  const middleware: MiddlewareHandler = async function documentedRoute(_c, next) {
    await next();
  };
  return withDoc(middleware, typeof doc === 'string' ? { summary: doc } : doc);
}

function withoutDialect<T extends Record<string, any>>(json: T): T {
  const { $schema: _dialect, $id: _id, ...rest } = json;
  return rest as T;
}

export const toSchema = (schema: z.ZodType) => withoutDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, any>);

const SCHEMA_REF = '#/components/schemas/';
const retryAfter = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer' } } };

/** Every error status the API answers, with its response's name under `components.responses`. */
const ERRORS = {
  400: ['BadRequest', 'the input is not valid and nothing was stored: `details.issues` lists what zod found'],
  401: ['Unauthorized', 'no key, or an unknown or revoked one'],
  403: ['Forbidden', 'a key of the wrong kind for this route'],
  404: ['NotFound', 'no such rollout, cohort, pin, key, callback or delivery'],
  409: ['Conflict', 'the current state does not allow it, or If-Match names an older version (`version_mismatch`)'],
  413: ['PayloadTooLarge', 'the body is larger than the server takes'],
  415: ['UnsupportedMediaType', 'the body is not JSON'],
  429: ['TooManyFailedAttempts', 'too many failed keys from this address; Retry-After says when to try again'],
  503: ['StorageUnavailable', 'storage failed (disk full, database locked, libsql server unreachable): nothing was changed; retry after Retry-After'],
} as const;

/** A reference to the shared response for an error status. */
export const errorRef = (status: ErrorStatus) => ({ $ref: `#/components/responses/${ERRORS[status][0]}` });

/** What a route can answer besides success: from its key, its inputs, its path and what it declares. */
export function errorStatuses(doc: RouteDoc, path: string): ErrorStatus[] {
  const statuses = new Set<ErrorStatus>(doc.errors);
  if (doc.body || doc.query || doc.params) statuses.add(400);
  if (!doc.public) [401, 403, 429].forEach((s) => statuses.add(s as ErrorStatus));
  if (path.includes('/:')) statuses.add(404);
  if (doc.body) [413, 415].forEach((s) => statuses.add(s as ErrorStatus));
  if (doc.storage !== false) statuses.add(503);
  return [...statuses].sort((a, b) => a - b);
}

/** A reference to a named response schema under `components.schemas`. */
export function schemaRef(schema: z.ZodType): { $ref: string } {
  const id = apiSchemas.get(schema)?.id;
  if (id === undefined) throw new Error('a response schema must be named (see http/responses.ts)');
  return { $ref: `${SCHEMA_REF}${id}` };
}

function responsesOf(doc: RouteDoc, path: string) {
  if (doc.responses) return doc.responses;
  const success = doc.success ?? { status: 200, description: 'OK' };
  const content = doc.response ? { 'application/json': { schema: schemaRef(doc.response) } } : success.contentType ? { [success.contentType]: {} } : undefined;
  return {
    [String(success.status)]: { description: success.description, ...(content ? { content } : {}) },
    ...(doc.alsoSuccess ? { [String(doc.alsoSuccess.status)]: { description: doc.alsoSuccess.description, ...(content ? { content } : {}) } } : {}),
    ...(doc.notModified ? { '304': { description: 'If-None-Match named the current ETag: nothing changed' } } : {}),
    ...Object.fromEntries(errorStatuses(doc, path).map((status) => [String(status), errorRef(status)])),
  };
}

function parameters(schema: z.ZodType | undefined, where: 'query' | 'path', pathNames: string[]) {
  const json = schema === undefined ? { properties: {}, required: [] } : toSchema(schema);
  const properties: Record<string, any> = json.properties ?? {};
  const required = new Set<string>(json.required ?? []);
  const names = where === 'path' ? pathNames : Object.keys(properties);
  return names.map((name) => {
    const { description, ...rest } = properties[name] ?? { type: 'string' };
    return { name, in: where, required: where === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

function components() {
  const { schemas } = z.toJSONSchema(apiSchemas, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12', uri: (id) => `${SCHEMA_REF}${id}` });
  const error = { 'application/json': { schema: { $ref: `${SCHEMA_REF}Error` } } };
  return {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'a Rollcall key: rc_admin_…, rc_read_… or rc_sdk_…' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'OFREP only: an rc_sdk_… key, as OFREP providers send it' },
    },
    responses: Object.fromEntries(
      Object.entries(ERRORS).map(([status, [name, description]]) => [name, { description, ...(status === '429' || status === '503' ? { headers: retryAfter } : {}), content: error }]),
    ),
    schemas: Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutDialect(schema as Record<string, any>)])),
  };
}

/** What `GET /openapi.json` answers: this document (its parts are OpenAPI's own). */
export const openApiDocumentSchema = named(
  'OpenApiDocument',
  z.looseObject({
    openapi: z.literal('3.1.0'),
    info: z.strictObject({ title: z.string(), version: z.string(), description: z.string() }),
    paths: z.record(z.string(), z.record(z.string(), z.unknown())),
    components: z.record(z.string(), z.unknown()),
  }),
);

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

/** Every route of `app` (its middleware excepted), described. */
export function openApiDocument(app: Hono<any>, info: OpenApiInfo) {
  const routes = new Map<string, { method: string; path: string; doc: RouteDoc }>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const key = `${route.method} ${route.path}`;
    const entry = routes.get(key) ?? { method: route.method.toLowerCase(), path: route.path, doc: {} };
    entry.doc = { ...entry.doc, ...(route.handler as Documented)[DOC] };
    routes.set(key, entry);
  }

  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, path, doc } of routes.values()) {
    const pathNames = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const openPath = path.replace(/:(\w+)/g, '{$1}');
    const tag = doc.tag ?? /^\/v1\/(sdk|[a-z]+)/.exec(path)?.[1] ?? 'service';
    paths[openPath] ??= {};
    paths[openPath]![method] = {
      operationId: `${method}${openPath.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: doc.summary ?? `${method.toUpperCase()} ${openPath}`,
      ...(doc.description ? { description: doc.description } : {}),
      tags: [tag],
      ...(doc.public ? { security: [] } : doc.security ? { security: doc.security } : {}),
      parameters: [...parameters(doc.params, 'path', pathNames), ...parameters(doc.query, 'query', pathNames)],
      ...(doc.body ? { requestBody: { required: !doc.body.safeParse(undefined).success, content: { 'application/json': { schema: toSchema(doc.body) } } } } : {}),
      responses: responsesOf(doc, path),
    };
  }

  return { openapi: '3.1.0', info, servers: [{ url: '/' }], components: components(), security: [{ bearer: [] }], paths };
}
