/** The admin's controls on a rollout page: each action asks for a reason. */
import type { RolloutView } from '../rollouts/view.ts';

export const ACTIONS = ['start', 'advance', 'pause', 'resume', 'complete', 'revert'] as const;
export type DashboardAction = (typeof ACTIONS)[number];

/** Which lifecycle actions make sense in this state (the server checks again). */
function offered(rollout: RolloutView): DashboardAction[] {
  switch (rollout.state) {
    case 'draft':
      return ['start'];
    case 'running':
      return rollout.step !== null && rollout.step < rollout.plan.length - 1 ? ['advance', 'pause', 'complete'] : ['pause', 'complete'];
    case 'paused':
      return ['complete'];
    default:
      return [];
  }
}

export function Actions(props: { rollout: RolloutView; csrf: string }) {
  const { rollout, csrf } = props;
  const path = `/rollouts/${encodeURIComponent(rollout.key)}/actions`;
  // A completed rollout can only be reverted whole: every partner is on new, whatever its cohorts.
  const active = rollout.state === 'completed' ? [] : rollout.cohorts.filter((c) => c.status === 'active');
  const reverted = rollout.state === 'running' || rollout.state === 'paused' ? rollout.cohorts.filter((c) => c.status === 'reverted') : [];
  const canRevert = rollout.state === 'running' || rollout.state === 'paused' || rollout.state === 'completed';
  return (
    <section class="card" id="actions">
      <strong>Actions</strong>
      {offered(rollout).map((action) => (
        <form class="action" method="post" action={`${path}/${action}`}>
          <input type="hidden" name="csrf" value={csrf} />
          <input type="hidden" name="version" value={String(rollout.version)} />
          <input type="text" name="reason" required maxlength={1000} placeholder={`why ${action}?`} aria-label={`reason to ${action}`} />
          <button type="submit" class={action === 'complete' ? 'primary' : ''}>{action}</button>
        </form>
      ))}
      {(rollout.state === 'paused' || (rollout.state === 'running' && reverted.length > 0)) && (
        <form class="action" method="post" action={`${path}/resume`} id="resume">
          <input type="hidden" name="csrf" value={csrf} />
          <input type="hidden" name="version" value={String(rollout.version)} />
          {/* Every reverted cohort is offered, checked: bringing them back is why one resumes. A paused rollout's
              resume brings back what a guard reverted in any case (a manual retry), so those boxes cannot be unchecked. */}
          {reverted.map((c) => (
            <label title={c.revertReason ?? ''}>
              <input type="checkbox" name="cohorts" value={c.name} checked disabled={rollout.state === 'paused' && c.revertKind === 'breach'} /> {c.name}{' '}
              <span class="muted">({c.revertKind === 'breach' ? 'by a guard' : `by ${c.revertedBy ?? 'hand'}`})</span>
            </label>
          ))}
          <input type="text" name="reason" required maxlength={1000} placeholder="why resume?" aria-label="reason to resume" />
          <button type="submit">{reverted.length > 0 ? 'resume, bringing back the checked cohorts' : 'resume'}</button>
        </form>
      )}
      {canRevert && (
        <form class="action" method="post" action={`${path}/revert`}>
          <input type="hidden" name="csrf" value={csrf} />
          <input type="hidden" name="version" value={String(rollout.version)} />
          <select name="cohort" aria-label="cohort to revert">
            {active.map((c) => (
              <option value={c.name}>cohort {c.name}</option>
            ))}
            <option value="">the whole rollout</option>
          </select>
          <input type="text" name="reason" required maxlength={1000} placeholder="why revert?" aria-label="reason to revert" />
          <button type="submit" class="danger">revert</button>
        </form>
      )}
    </section>
  );
}
