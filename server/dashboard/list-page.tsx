/** The rollouts list: state, step, shares, a health badge and the last decision for each. */
import type { RolloutListData } from './read-model.ts';
import { stateClass, when } from './format.ts';

function HealthBadge(props: { row: RolloutListData[number] }) {
  const { row } = props;
  if (!row.measured) return <span class="badge muted">not guarded</span>;
  if (row.breach !== null) return <span class="badge bad" title={row.breach.reason}>breached: {row.breach.guard}</span>;
  return <span class="badge ok">healthy</span>;
}

export function RolloutList(props: { rows: RolloutListData }) {
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
              <td class="num">{row.summary.live}%</td>
              <td class="num">{row.summary.shadow === null ? '—' : `${row.summary.shadow}%`}</td>
              <td>
                <HealthBadge row={row} />
              </td>
              <td class="hide-small">
                {row.last === null ? (
                  '—'
                ) : (
                  <span>
                    <code>{row.last.action}</code> by {row.last.actor} <span class="muted">{when(row.last.at)}</span>
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
