/**
 * `rollcall export`: the server's rollouts in the format `apply` reads, so a
 * team can start from what it has. Lifecycle (state, step, version) is not
 * part of the file; each rollout carries it as a comment.
 */
import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import { listAll, type ApiClient } from './client.ts';
import type { RemoteRollout } from './apply.ts';
import { stepLabel } from './step-label.ts';

export function fileEntry(rollout: RemoteRollout) {
  return {
    key: rollout.key,
    ...(rollout.description === '' ? {} : { description: rollout.description }),
    // The salt defaults to the key; written only when it differs.
    ...(rollout.salt === rollout.key ? {} : { salt: rollout.salt }),
    plan: rollout.plan,
    guards: rollout.guards,
    onBreach: rollout.onBreach,
    autoAdvance: rollout.autoAdvance,
    ...(rollout.compare === undefined || Object.keys(rollout.compare).length === 0 ? {} : { compare: rollout.compare }),
  };
}

const lifecycleOf = (r: RemoteRollout) =>
  ` ${r.state}${r.step === null ? '' : `, ${stepLabel(r.step, r.plan.length)}`}, version ${r.version} (lifecycle is not part of the file)`;

export async function exportRollouts(client: ApiClient, keys: string[], format: 'yaml' | 'json'): Promise<string> {
  const rollouts =
    keys.length === 0 ? await listAll<RemoteRollout>(client, '/v1/rollouts') : await Promise.all(keys.map((key) => client.request<RemoteRollout>('GET', `/v1/rollouts/${key}`)));
  const body = { rollouts: rollouts.map(fileEntry) };
  if (format === 'json') return `${JSON.stringify(body, null, 2)}\n`;
  const doc = new Document(body);
  doc.commentBefore = ` Rollouts as code: rollcall apply -f <this file>. Exported from ${client.url} at ${new Date().toISOString()}.`;
  const items = (doc.get('rollouts') as YAMLSeq).items as YAMLMap[];
  items.forEach((item, i) => {
    item.commentBefore = lifecycleOf(rollouts[i]!);
    // One step per line reads like the plan it is.
    const plan = item.get('plan');
    if (isSeq(plan)) for (const step of plan.items) if (isMap(step)) step.flow = true;
  });
  return doc.toString({ lineWidth: 0 });
}
