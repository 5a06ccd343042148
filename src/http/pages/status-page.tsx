// GET /: every slot of this host at a glance — usage, per-device health, holds,
// current job — and every target's queue.
import type { FC } from 'hono/jsx';
import type { TargetQueue } from '../../jobs/queue-summary.js';
import type { SlotView } from '../../api/slot.js';
import { ago, clock } from './page-format.js';
import { HealthBadge, HoldText, LastResult, troubleClass, unavailableText, UsageText } from './slot-bits.js';

export interface StatusPageProps {
  slots: readonly SlotView[];
  queues: ReadonlyMap<string, TargetQueue>;
  now: number;
}

export const StatusPage: FC<StatusPageProps> = ({ slots, queues, now }) => {
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
      <TargetTable slots={slots} queues={queues} now={now} />
      <h2>Slots</h2>
      <table id="slots">
        <thead>
          <tr>
            <th>slot</th>
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
                <a href={`/slots/${slot.name}`}>
                  <strong>{slot.name}</strong>
                </a>
                {slot.unavailable === null ? null : (
                  <>
                    <br />
                    <small>{unavailableText(slot.unavailable)}</small>
                  </>
                )}
              </td>
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
