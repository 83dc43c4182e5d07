/**
 * The OpenAPI 3.1 description, generated from the routes themselves: the zod
 * schemas the validators run (`jsonBody`, `queryOf`, `paramsOf` carry theirs)
 * and a `describe()` note on each route. Nothing is written twice, so the
 * document cannot drift from what the server checks.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';

const DOC = Symbol.for('rollcall.openapi');

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
  /** The success status and what it returns (200, "the rollout" by default). */
  success?: { status: number; description: string; contentType?: string };
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

export const toSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, any>;

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

const errorResponse = { $ref: '#/components/responses/Error' };

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
    const success = doc.success ?? { status: 200, description: 'OK' };
    paths[openPath] ??= {};
    paths[openPath]![method] = {
      operationId: `${method}${openPath.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: doc.summary ?? `${method.toUpperCase()} ${openPath}`,
      ...(doc.description ? { description: doc.description } : {}),
      tags: [tag],
      ...(doc.public ? { security: [] } : doc.security ? { security: doc.security } : {}),
      parameters: [...parameters(doc.params, 'path', pathNames), ...parameters(doc.query, 'query', pathNames)],
      ...(doc.body ? { requestBody: { required: !doc.body.safeParse(undefined).success, content: { 'application/json': { schema: toSchema(doc.body) } } } } : {}),
      responses: doc.responses ?? {
        [String(success.status)]: { description: success.description, ...(success.contentType ? { content: { [success.contentType]: {} } } : {}) },
        ...(doc.public ? {} : { '401': errorResponse, '403': errorResponse }),
        '400': errorResponse,
        '404': errorResponse,
        ...(method === 'get' ? {} : { '409': errorResponse, '413': errorResponse }),
        // Any route that touches storage answers 503 storage_unavailable, with Retry-After, while storage fails.
        '503': errorResponse,
      },
    };
  }

  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a Rollcall key: rc_admin_…, rc_read_… or rc_sdk_…' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'OFREP only: an rc_sdk_… key, as OFREP providers send it' },
      },
      responses: { Error: { description: 'an error, always in this shape', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
