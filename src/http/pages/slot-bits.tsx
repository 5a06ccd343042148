// Small pieces both status pages draw the same way: badges for health, usage
// and holds, a device's last result, a hold's who/why/since.
import type { FC } from 'hono/jsx';
import type { DeviceHealthState } from '../../db/schema.js';
import type { DeviceView, HoldView, SlotView, Unavailable } from '../../api/slot.js';
import { holder } from '../../slots/holder.js';
import { ago, clock } from './page-format.js';

export const HealthBadge: FC<{ health: DeviceHealthState }> = ({ health }) => (
  <span class={`badge ${health}`}>{health}</span>
);

/** The row class that makes trouble visible: held, unhealthy, or both. */
export function troubleClass(slot: SlotView): string {
  return [slot.hold === null ? '' : 'held', slot.health === 'unhealthy' ? 'unhealthy' : ''].filter(Boolean).join(' ');
}

export const UsageText: FC<{ slot: SlotView; now: number }> = ({ slot, now }) => (
  <span>
    {slot.usage}
    {slot.lease === null ? null : (
      <>
        {' '}
        job <code>{slot.lease.job_id}</code>
      </>
    )}
    <br />
    <small title={clock(slot.usage_since)}>since {ago(slot.usage_since, now)}</small>
  </span>
);

export const HoldText: FC<{ hold: HoldView; now: number }> = ({ hold, now }) => (
  <span>
    <span class="badge held">held</span> <strong>{hold.reason}</strong>
    <br />
    <small title={clock(hold.at)}>
      by {holder(hold)}, {ago(hold.at, now)}
    </small>
  </span>
);

/** "serial: not present (3m ago)": the last result, or that there is none yet. */
export const LastResult: FC<{ device: DeviceView; now: number }> = ({ device, now }) => {
  const last = device.last_check;
  if (last === null) return <small class="muted">not checked yet</small>;
  return (
    <small title={last.at === null ? undefined : clock(last.at)}>
      {last.ok ? 'ok' : (last.reason ?? 'failed')}
      {last.duration_ms === null ? '' : `, ${last.duration_ms} ms`}, {ago(last.at, now)}
    </small>
  );
};

/** Short, because the row already shows the devices and the hold that explain it in full. */
export function unavailableText(why: Unavailable): string {
  switch (why.kind) {
    case 'held':
      return 'held';
    case 'in-use':
      return 'in use';
    case 'unhealthy':
      return 'a device is unhealthy';
    case 'unknown-health':
      return 'not checked yet';
    case 'conflict':
    case 'host':
      return why.detail;
  }
}
