// GET /: every slot of this host at a glance — usage, per-device health, holds,
// current job — and every target's queue.
import type { FC } from 'hono/jsx';
import type { TargetQueue } from '../../jobs/queue-summary.js';
import type { SlotView } from '../../api/slot.js';
import type { LabPageView } from './lab-status.js';
import { ago, clock } from './page-format.js';
import { HealthBadge, HoldText, LastResult, troubleClass, unavailableText, UsageText } from './slot-bits.js';

export interface StatusPageProps {
  slots: readonly SlotView[];
  queues: ReadonlyMap<string, TargetQueue>;
  now: number;
  /** A lab: the hosts, the filter, and whether its database is in reach. */
  lab?: LabPageView | undefined;
}

export const StatusPage: FC<StatusPageProps> = ({ slots, queues, now, lab }) => {
  const urls = new Map(lab?.hosts.map((h) => [h.name, h.url]));
  /** Another host's slot page is that host's (it has the slot's history); this agent's is here. */
  const slotHref = (slot: SlotView): string =>
    lab === undefined || slot.host === lab.me
      ? `/slots/${slot.name}`
      : `${urls.get(slot.host) ?? ''}/slots/${slot.name}`;
  const held = slots.filter((s) => s.hold !== null).length;
  const unhealthy = slots.filter((s) => s.health === 'unhealthy').length;
  const busy = slots.filter((s) => s.usage !== 'idle').length;
  return (
    <>
      <div class="summary">
        <span>
          <b>{slots.length}</b> slots
        </span>
        <span>
          <b>{slots.filter((s) => s.available).length}</b> available
        </span>
        <span>
          <b>{busy}</b> in use
        </span>
        <span class={held > 0 ? 'badge held' : ''}>
          <b>{held}</b> held
        </span>
        <span class={unhealthy > 0 ? 'badge unhealthy' : ''}>
          <b>{unhealthy}</b> unhealthy
        </span>
      </div>
      {lab === undefined ? null : <LabHosts lab={lab} now={now} />}
      <TargetTable slots={slots} queues={queues} now={now} />
      <h2>Slots</h2>
      <table id="slots">
        <thead>
          <tr>
            <th>slot</th>
            {lab === undefined ? null : <th>host</th>}
            <th>target</th>
            <th>usage</th>
            <th>health</th>
            <th>devices</th>
            <th>hold</th>
          </tr>
        </thead>
        <tbody>
          {slots.map((slot) => (
            <tr class={troubleClass(slot)} data-slot={slot.name}>
              <td>
                <a href={slotHref(slot)}>
                  <strong>{slot.name}</strong>
                </a>
                {slot.unavailable === null ? null : (
                  <>
                    <br />
                    <small>{unavailableText(slot.unavailable)}</small>
                  </>
                )}
              </td>
              {lab === undefined ? null : (
                <td>
                  <a href={`/?host=${encodeURIComponent(slot.host)}`}>{slot.host}</a>
                </td>
              )}
              <td>{slot.target}</td>
              <td>
                <UsageText slot={slot} now={now} />
              </td>
              <td>
                <HealthBadge health={slot.health} />
              </td>
              <td>
                <ul class="devices">
                  {slot.devices.map((d) => (
                    <li class={d.health}>
                      {d.name} <span class="muted">{d.kind}</span> <LastResult device={d} now={now} />
                    </li>
                  ))}
                </ul>
              </td>
              <td>{slot.hold === null ? <span class="muted">—</span> : <HoldText hold={slot.hold} now={now} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
};

/** The lab's hosts, each a filter link, with when each last reported; or why the lab is out of sight. */
const LabHosts: FC<{ lab: LabPageView; now: number }> = ({ lab, now }) => (
  <div class="summary" id="hosts">
    {lab.problem === null ? null : (
      <span class="badge unhealthy">lab database out of reach ({lab.problem}): this host's slots only</span>
    )}
    <span>
      <a href="/">{lab.only === undefined ? <b>all hosts</b> : 'all hosts'}</a>
    </span>
    {lab.hosts.map((h) => (
      <span class={h.online ? '' : 'badge unhealthy'} data-host={h.name}>
        <a href={`/?host=${encodeURIComponent(h.name)}`}>{lab.only === h.name ? <b>{h.name}</b> : h.name}</a>{' '}
        {h.online ? <span class="muted">seen {ago(h.lastSeen, now)}</span> : <>offline since {ago(h.lastSeen, now)}</>}
        {h.name === lab.me ? <span class="muted"> (this agent)</span> : null}
      </span>
    ))}
  </div>
);

const TargetTable: FC<StatusPageProps> = ({ slots, queues, now }) => {
  const targets = [...new Set(slots.map((s) => s.target))].sort();
  return (
    <table id="targets">
      <thead>
        <tr>
          <th>target</th>
          <th class="num">slots</th>
          <th class="num">available</th>
          <th class="num">running</th>
          <th class="num">queued</th>
          <th>oldest queued</th>
        </tr>
      </thead>
      <tbody>
        {targets.map((target) => {
          const own = slots.filter((s) => s.target === target);
          const queue = queues.get(target);
          return (
            <tr data-target={target}>
              <td>{target}</td>
              <td class="num">{own.length}</td>
              <td class="num">{own.filter((s) => s.available).length}</td>
              <td class="num">{own.filter((s) => s.usage === 'running').length}</td>
              <td class="num">{queue?.queued ?? 0}</td>
              <td>
                {queue === undefined ? (
                  <span class="muted">—</span>
                ) : (
                  <span title={clock(queue.oldestSubmittedAt)}>{ago(queue.oldestSubmittedAt, now)}</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
};
