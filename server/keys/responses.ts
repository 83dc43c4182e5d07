/** What the keys API answers, as zod schemas tied to the service's views at compile time. */
import { z } from 'zod';
import { isoTime, named, pageOf, type Same } from '../http/responses.ts';
import { KEY_KINDS } from './key-format.ts';
import type { KeyService, KeyView } from './service.ts';

export const keyViewSchema = named(
  'Key',
  z.strictObject({
    id: z.string(),
    kind: z.enum(KEY_KINDS),
    name: z.string(),
    prefix: z.string().describe('the start of the key, to recognise it by; the key itself is never shown again'),
    status: z.enum(['active', 'revoked']),
    createdAt: isoTime,
    createdBy: z.string(),
    lastUsedAt: isoTime.nullable(),
    revokedAt: isoTime.nullable(),
    revokedBy: z.string().nullable(),
  }),
);

export const createdKeySchema = named('CreatedKey', z.strictObject({ ...keyViewSchema.shape, key: z.string().describe('the key: shown in this response and nowhere else, ever') }));
export const keyListSchema = named('KeyList', pageOf(keyViewSchema));

export const pruneResultSchema = named(
  'KeyPrune',
  z.strictObject({
    apply: z.boolean().describe('false: a dry run, nothing was revoked'),
    unusedDays: z.number().int(),
    cutoff: isoTime.describe('keys unused since before this are candidates'),
    limit: z.number().int().describe('candidates listed (and revoked) at most per call'),
    keys: z.array(keyViewSchema).describe('the candidates, as they were'),
    revoked: z.array(z.string()).describe('ids revoked by this call'),
  }),
);

const tied: [
  Same<z.output<typeof keyViewSchema>, KeyView>,
  Same<z.output<typeof createdKeySchema>, Awaited<ReturnType<KeyService['create']>>>,
  Same<z.output<typeof keyListSchema>, Awaited<ReturnType<KeyService['list']>>>,
  Same<z.output<typeof pruneResultSchema>, Awaited<ReturnType<KeyService['prune']>>>,
] = [true, true, true, true];
void tied;
