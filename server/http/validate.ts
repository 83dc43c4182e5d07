/**
 * zod validation for bodies, queries and params, as Hono middleware so that
 * handlers read typed values with `c.req.valid(...)`. Failures are 400s with
 * the zod issues in `details`; nothing after the validator runs.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { AppError, badRequest } from '../errors.ts';
import { withDoc } from './openapi.ts';

type Where = 'body' | 'query' | 'params';

/** Each issue's path (dotted), code and message; an unknown key's issue also names the keys (`keys`). */
export function issuesOf(error: z.ZodError) {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    code: issue.code,
    message: issue.message,
    ...(issue.code === 'unrecognized_keys' ? { keys: issue.keys } : {}),
  }));
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: Where): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = issuesOf(result.error);
  const first = issues[0];
  const summary = first === undefined ? 'invalid' : `${first.path === '' ? where : first.path}: ${first.message}`;
  throw badRequest(`invalid_${where}`, `the request ${where} is not valid (${summary})`, { issues });
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** The body as JSON; undefined when empty. Any content type but JSON is refused. */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  const type = c.req.header('content-type');
  if (type !== undefined && !JSON_TYPE.test(type.split(';')[0]!.trim())) {
    throw new AppError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest('invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

export function jsonBody<S extends z.ZodType>(
  schema: S,
): MiddlewareHandler<any, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  return withDoc(async function validateJsonBody(c, next) {
    c.req.addValidatedData('json', parse(schema, await readJson(c), 'body') as object);
    await next();
  } as MiddlewareHandler, { body: schema });
}

export function queryOf<S extends z.ZodType>(
  schema: S,
): MiddlewareHandler<any, string, { in: { query: Record<string, string> }; out: { query: z.output<S> } }> {
  return withDoc(async function validateQuery(c, next) {
    const queries = c.req.queries();
    const value = Object.fromEntries(Object.entries(queries).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
    c.req.addValidatedData('query', parse(schema, value, 'query') as object);
    await next();
  } as MiddlewareHandler, { query: schema });
}

export function paramsOf<S extends z.ZodType>(
  schema: S,
): MiddlewareHandler<any, string, { in: { param: Record<string, string> }; out: { param: z.output<S> } }> {
  return withDoc(async function validateParams(c, next) {
    c.req.addValidatedData('param', parse(schema, c.req.param(), 'params') as object);
    await next();
  } as MiddlewareHandler, { params: schema });
}

/** A whole number in a query string, within bounds. */
export function intQuery(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** `?limit=` for list endpoints: 1..1000, default 100. */
export const limitQuery = intQuery(1, 1000).default(100);
