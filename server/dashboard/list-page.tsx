/** The rollouts list: state, step, the share really on new, the health status with its reason, and the last decision. */
import type { RolloutListData } from './read-model.ts';
import { HEALTH_CLASS, liveText, stateClass, when } from './format.ts';

function HealthCell(props: { row: RolloutListData[number] }) {
  const { health } = props.row;
  return (
    <td class="health" data-health={health.status}>
      <span class={`badge ${HEALTH_CLASS[health.status]}`}>{health.status}</span>
      <div class="muted reason" style="font-size:.8rem">{health.reason}</div>
    </td>
  );
}

export function RolloutList(props: { rows: RolloutListData; now: number }) {
  return (
    <section class="card scroll" id="rollout-list" data-live="/live">
      <table>
        <thead>
          <tr>
            <th>rollout</th>
            <th>state</th>
            <th>step</th>
            <th class="num">live</th>
            <th class="num">shadow</th>
            <th>health</th>
            <th class="hide-small">last decision</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0 && (
            <tr>
              <td colspan={7} class="muted">
                No rollouts yet. Create one with <code>POST /v1/rollouts</code> (see <a href="/docs">the API</a>).
              </td>
            </tr>
          )}
          {props.rows.map((row) => (
            <tr data-rollout={row.summary.key}>
              <td>
                <a href={`/rollouts/${encodeURIComponent(row.summary.key)}`}>{row.summary.key}</a>
                <div class="muted" style="font-size:.8rem">{row.summary.description}</div>
              </td>
              <td>
                <span class={`badge ${stateClass(row.summary.state)}`}>{row.summary.state}</span>
              </td>
              <td>{row.summary.step === null ? '—' : `${row.summary.step + 1} of ${row.summary.plan.length}`}</td>
              <td class="num live" data-effective-live={String(row.summary.effectiveLive)}>{liveText(row.summary.live, row.summary.effectiveLive)}</td>
              <td class="num">{row.summary.shadow === null ? '—' : `${row.summary.effectiveShadow}%`}</td>
              <HealthCell row={row} />
              <td class="hide-small">
                {row.last === null ? (
                  '—'
                ) : (
                  <span>
                    <code>{row.last.action}</code> by {row.last.actor} <span class="muted">{when(row.last.at, props.now)}</span>
                    {row.last.reason && <div class="muted" style="font-size:.8rem">{row.last.reason}</div>}
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="live-dot" id="live-at"></div>
    </section>
  );
}
