/** The report batch as the server validates it: built from, and checked against, the protocol's wire module. */
import { z } from 'zod';
import { COUNTERS, DROP_REASONS, MAX_PATHS, SLOTS, type Counter, type ReportBatch } from '@rollcall/protocol';
import { rolloutKeySchema } from '../rollouts/schemas.ts';

export const cohortSchema = z.string().regex(/^(c[1-9]\d{0,3}|baseline|shadow|pinned|completed)$/, 'a cohort is c1…, baseline, shadow, pinned or completed');
const pathSchema = z.enum(['old', 'new', 'shadow']);
const count = z.number().int().min(0).max(1_000_000_000);
const epochMs = z.number().int().min(0).max(8.64e15);
const id = z.string().min(1).max(256);
/** A generalised field path (`$.items[*].at`), or `(error)`, `(timeout)`, `(more)`. */
const fieldName = z.string().min(1).max(1_000);
const counts = Object.fromEntries(COUNTERS.map((c) => [c, count])) as Record<Counter, typeof count>;

/** Sparse [slot, count, …] pairs. */
const histogram = z
  .array(z.number().int().min(0).max(1_000_000_000))
  .max(2 * SLOTS)
  .refine((pairs) => pairs.length % 2 === 0 && pairs.every((v, i) => i % 2 === 1 || v < SLOTS), 'a histogram is [slot, count, …] with slots below 121');

/** A diff value: whatever JSON the SDK clipped, within reason. */
const diffValue = z.unknown().refine((v) => v === undefined || (JSON.stringify(v)?.length ?? 0) <= 2_000, 'a diff value is at most 2000 characters of JSON');

export const reportBatchSchema = z.strictObject({
  batchId: z.string().min(8).max(64),
  sdk: z.strictObject({ name: z.string().max(64), version: z.string().max(32), instanceId: z.string().min(1).max(64) }),
  sentAt: epochMs,
  counts: z
    .array(
      z.strictObject({
        rollout: rolloutKeySchema,
        cohort: cohortSchema,
        path: pathSchema,
        second: z.number().int().min(0).max(8.64e12),
        ...counts,
        droppedBy: z.partialRecord(z.enum(DROP_REASONS), count).optional(),
        latency: histogram.optional(),
        candidateLatency: histogram.optional(),
        differences: z
          .array(z.strictObject({ paths: z.array(fieldName).min(1).max(MAX_PATHS + 1), count: count.min(1) }))
          .max(200)
          .optional(),
      })
      .refine((row) => row.droppedBy === undefined || Object.values(row.droppedBy).reduce((a: number, n) => a + (n ?? 0), 0) === row.dropped, {
        message: 'droppedBy adds up to dropped',
        path: ['droppedBy'],
      }),
    )
    .max(10_000),
  messages: z
    .array(
      z.strictObject({
        rollout: rolloutKeySchema,
        messageId: id,
        partnerId: z.string().max(256),
        cohort: cohortSchema,
        path: pathSchema,
        status: z.enum(['open', 'processed', 'failed']),
        receivedAt: epochMs.optional(),
        at: epochMs,
        error: z.string().max(500).optional(),
      }),
    )
    .max(20_000),
  mismatches: z
    .array(
      z.strictObject({
        rollout: rolloutKeySchema,
        cohort: cohortSchema,
        messageId: id,
        partnerId: z.string().max(256),
        authoritative: z.enum(['old', 'new']),
        kind: z.enum(['diff', 'error', 'timeout']),
        diffs: z.array(z.strictObject({ path: z.string().max(1_000), old: diffValue.optional(), new: diffValue.optional() })).max(20),
        at: epochMs,
      }),
    )
    .max(2_000),
  noise: z
    .array(
      z
        .strictObject({ rollout: rolloutKeySchema, paths: z.array(fieldName).max(1_000), runs: count.optional(), counts: z.array(count.min(1)).max(1_000).optional() })
        .refine((n) => n.counts === undefined || (n.runs !== undefined && n.counts.length === n.paths.length && n.counts.every((c) => c <= n.runs!)), {
          message: 'counts go with runs: one per path, none above runs',
          path: ['counts'],
        }),
    )
    .max(100),
  watermark: epochMs.optional(),
  final: z.boolean().optional(),
});

export type ValidBatch = z.output<typeof reportBatchSchema>;

/** True only when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails to compile when the schema and the SDK's wire type drift apart. */
const tied: Same<z.input<typeof reportBatchSchema>, ReportBatch> = true;
void tied;
