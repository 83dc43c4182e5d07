/** The comparison rules a rollout carries (`compare`), as the API and the rollouts file take them. */
import { z } from 'zod';
import { parsePath, type CompareRules } from '@rollcall/protocol';

/** A field path in the SDK's JSONPath subset (`$.meta.at`, `$.items[*].id`), checked by the SDK's own parser. */
export const fieldPathSchema = z
  .string()
  .min(1)
  .max(500)
  .superRefine((path, ctx) => {
    try {
      parsePath(path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const paths = z.array(fieldPathSchema).max(200);
const bound = z.number().min(0).max(1e12);

export const compareRulesSchema = z.strictObject({
  ignore: paths.optional(),
  unorderedArrays: z.union([z.boolean(), paths]).optional(),
  numericTolerance: z.union([bound, z.strictObject({ absolute: bound.optional(), relative: z.number().min(0).max(1).optional() })]).optional(),
});

/** The rules as stored and sent: null when nothing is set, so a rollout without rules snapshots as before. */
export function storedRules(rules: z.output<typeof compareRulesSchema> | null | undefined): CompareRules | null {
  if (rules === null || rules === undefined) return null;
  const out: CompareRules = {};
  if (rules.ignore !== undefined && rules.ignore.length > 0) out.ignore = [...new Set(rules.ignore)];
  if (rules.unorderedArrays !== undefined && rules.unorderedArrays !== false) out.unorderedArrays = rules.unorderedArrays;
  if (rules.numericTolerance !== undefined) out.numericTolerance = rules.numericTolerance;
  return Object.keys(out).length > 0 ? out : null;
}
