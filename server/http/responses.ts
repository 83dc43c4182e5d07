/**
 * What the API answers, as zod schemas: the pieces every domain's response
 * schemas are built from, the one error body, and the registry that names
 * them. `/openapi.json` lists every schema named here under
 * `components.schemas` and points each operation's responses at them.
 */
import { z } from 'zod';

/** Every response schema by name: `/openapi.json`'s `components.schemas`. */
export const apiSchemas = z.registry<{ id: string }>();

/** Registers `schema` under `id` (a name a generated client shows) and returns it. */
export function named<S extends z.ZodType>(id: string, schema: S): S {
  apiSchemas.add(schema, { id });
  return schema;
}

/** An ISO 8601 time as the API writes it (`Date#toISOString`). */
export const isoTime = z.string().meta({ format: 'date-time' });

/** A page of a list, and the cursor of the next one (null on the last page). */
export function pageOf<S extends z.ZodType>(item: S) {
  return z.strictObject({ items: z.array(item), nextCursor: z.string().nullable().describe('pass as the cursor parameter for the next page; null on the last') });
}

/** `{ error: { code, message, details? } }`: every error but OFREP's own, whatever the status. */
export const errorBodySchema = named(
  'Error',
  z.strictObject({
    error: z.strictObject({
      code: z.string().describe('stable and machine-readable: invalid_body, not_found, version_mismatch, storage_unavailable, …'),
      message: z.string().describe('for people'),
      details: z.unknown().optional().describe('zod issues for a 400; the current version for a version_mismatch; the outage for a 503; every refusal (refusals) for a dry run'),
    }),
  }),
);

/** `GET /healthz`: the process answers. */
export const livenessSchema = named('Liveness', z.strictObject({ status: z.literal('ok') }));

/** True when A and B are the same type: a view and the schema describing it are tied at compile time. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
