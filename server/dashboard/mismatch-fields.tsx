/**
 * Differences ranked by field: per field path, how many compared messages
 * differ there, real differences first and noise apart (collapsed), and the
 * admin's form to mark a field "ignore" on the rollout (a PATCH of its
 * compare rules: audited, and on every SDK's stream at once).
 */
import { z } from 'zod';
import type { RolloutPageData } from './read-model.ts';
import { fieldPathSchema } from '../rollouts/compare-rules.ts';
import type { ChangeRequest, RolloutService } from '../rollouts/service.ts';
import { num, pct, when } from './format.ts';

type Field = RolloutPageData['fields']['ranked'][number];

function FieldRow(props: { field: Field; now: number }) {
  const f = props.field;
  const share = f.compared > 0 ? f.count / f.compared : 0;
  return (
    <tr data-field={f.path}>
      <td><code>{f.path}</code></td>
      <td class="num">{num(f.count)} of {num(f.compared)}</td>
      <td><div class="bar" title={pct(share, 1)}><span style={`left:0;width:${(share * 100).toFixed(1)}%`}></span></div></td>
      <td>
        {f.noise && <span class="badge muted">noise{f.learnedAt !== null && ` · learned ${when(f.learnedAt, props.now)} from ${f.learnedFrom ?? '?'} double runs`}</span>}
        {f.ignored && <span class="badge muted">ignored by the rollout</span>}
        {!f.noise && !f.ignored && f.oldRate !== null && <span class="badge warn" title="two old runs differ here too, but far less often than old and new do">also noisy in {pct(f.oldRate, 1)} of double runs</span>}
      </td>
    </tr>
  );
}

/** The ranked table, in the live part of the rollout page. */
export function MismatchFields(props: { data: RolloutPageData }) {
  const { ranked, learning } = props.data.fields;
  const real = ranked.filter((f) => !f.noise && !f.ignored);
  const quiet = ranked.filter((f) => f.noise || f.ignored);
  return (
    <div class="card" id="mismatch-fields">
      {learning !== null && <p class="warn">Learning noise: {learning.runs} of {learning.needed} double runs of the old path; the shadow mismatch verdict waits until then.</p>}
      {real.length === 0 ? (
        <p class="muted">No field differs beyond noise in this window.</p>
      ) : (
        <table>
          <thead>
            <tr><th>field</th><th class="num">messages that differ</th><th></th><th></th></tr>
          </thead>
          <tbody>{real.map((f) => <FieldRow field={f} now={props.data.now} />)}</tbody>
        </table>
      )}
      {quiet.length > 0 && (
        <details id="noise-fields">
          <summary>noise and ignored fields ({quiet.length}): not counted against the guard</summary>
          <table>
            <tbody>{quiet.map((f) => <FieldRow field={f} now={props.data.now} />)}</tbody>
          </table>
        </details>
      )}
    </div>
  );
}

/** The admin's form: ignore one of the fields that differ, with a reason. */
export function IgnoreField(props: { data: RolloutPageData; csrf: string }) {
  const { rollout, fields } = props.data;
  const candidates = fields.ranked.filter((f) => !f.ignored && f.path.startsWith('$'));
  if (candidates.length === 0) return null;
  return (
    <section class="card" id="ignore-field">
      <form class="action" method="post" action={`/rollouts/${encodeURIComponent(rollout.key)}/ignore`}>
        <input type="hidden" name="csrf" value={props.csrf} />
        <input type="hidden" name="version" value={String(rollout.version)} />
        <strong>Ignore a field</strong>{' '}
        <select name="path" aria-label="field to ignore">
          {candidates.map((f) => (
            <option value={f.path}>{f.path}</option>
          ))}
        </select>
        <input type="text" name="reason" required maxlength={1000} placeholder="why is this field not a difference?" aria-label="reason to ignore" />
        <button type="submit">ignore</button>
      </form>
    </section>
  );
}

export const ignoreForm = z.object({
  csrf: z.string().max(200),
  path: fieldPathSchema,
  reason: z.string().trim().min(1, 'give a reason').max(1000),
  version: z.string().regex(/^\d{1,12}$/).transform(Number).optional(),
});

/** Adds the field to the rollout's ignore rules (a PATCH with its reason); returns the flash message. */
export async function ignoreField(rollouts: RolloutService, key: string, path: string, request: ChangeRequest): Promise<string> {
  const { rollout } = await rollouts.get(key);
  const rules = rollout.compare ?? {};
  if ((rules.ignore ?? []).includes(path)) return `${path} is already ignored`;
  const view = await rollouts.patch(key, { compare: { ...rules, ignore: [...(rules.ignore ?? []), path] }, reason: request.reason }, request);
  return `${path} is ignored from now on — version ${view.version}`;
}
