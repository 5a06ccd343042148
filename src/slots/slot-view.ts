// Computes a slot's JSON shape (api/slot.ts): config, derived conflicts and
// the persisted state, joined in one place.
import { inArray } from 'drizzle-orm';
import type { DeviceView, HoldView, SlotView, Unavailable } from '../api/slot.js';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import { checkHistory, type StoredResult } from '../db/check-history.js';
import type { Db } from '../db/open-database.js';
import { deviceHealth, type DeviceHealthState } from '../db/schema.js';
import { describeDevice } from '../devices/describe-device.js';
import { availabilityOf, type HostState, type SlotAvailability } from './availability.js';
import { readSlotStates, type Hold } from './slot-states.js';

export { holder } from './holder.js';

export function holdView(hold: Hold): HoldView {
  return {
    reason: hold.reason,
    source: hold.source,
    by: hold.by,
    at: new Date(hold.at).toISOString(),
    job_id: hold.jobId,
    worker_id: hold.workerId,
  };
}

export interface SlotViewOptions {
  only?: readonly string[];
  /** Recent check results per device to include. */
  historyLimit?: number;
  /** The last host check; without one, no slot is available. */
  host?: HostState;
}

export function slotViews(
  lab: LabModel,
  db: Db,
  { only, historyLimit = 0, host = { ok: null, reason: 'host not checked yet' } }: SlotViewOptions = {},
): SlotView[] {
  const slots = [...lab.slots.values()].filter((s) => only === undefined || only.includes(s.name));
  // Every slot's state and every device's health, read once: availability needs the other slots too.
  const states = readSlotStates(db, [...lab.slots.keys()]);
  const allDevices = [...lab.devices.keys()];
  const healthRows =
    allDevices.length === 0 ? [] : db.select().from(deviceHealth).where(inArray(deviceHealth.device, allDevices)).all();
  const health = new Map(healthRows.map((row) => [row.device, row]));
  const availability = availabilityOf(lab, states, health, host);
  const shown = [...new Set(slots.flatMap((s) => s.devices))];
  const history = new Map(shown.map((d) => [d, historyLimit > 0 ? checkHistory(db, d, historyLimit) : []]));

  return slots.map((slot) => {
    const state = states.get(slot.name);
    // The agent creates a row for every configured slot before it serves anything.
    if (!state) throw new Error(`slot ${slot.name} has no row in the database`);
    const devices = slot.devices.map((name) => deviceView(lab, slot, name, health.get(name), history.get(name) ?? []));
    return {
      name: slot.name,
      host: lab.agentName,
      target: slot.target,
      description: slot.spec.description ?? null,
      usage: state.usage,
      usage_since: new Date(state.usageChangedAt).toISOString(),
      lease: state.leaseJobId !== null ? { job_id: state.leaseJobId, worker_id: state.leaseWorkerId } : null,
      hold: state.hold === null ? null : holdView(state.hold),
      health: combinedHealth(devices.map((d) => d.health)),
      ...availabilityView(availability.get(slot.name)),
      conflicts_with: [...slot.conflicts],
      devices,
    };
  });
}

function availabilityView(a: SlotAvailability | undefined): { available: boolean; unavailable: Unavailable | null } {
  return a === undefined || a.available
    ? { available: true, unavailable: null }
    : { available: false, unavailable: a.why };
}

/** A slot is healthy when all its devices are, unhealthy when any is, unknown otherwise. */
export function combinedHealth(states: readonly DeviceHealthState[]): DeviceHealthState {
  if (states.includes('unhealthy')) return 'unhealthy';
  if (states.length > 0 && states.every((s) => s === 'healthy')) return 'healthy';
  return 'unknown';
}

type HealthRow = typeof deviceHealth.$inferSelect;

function deviceView(
  lab: LabModel,
  slot: SlotModel,
  name: string,
  row: HealthRow | undefined,
  history: readonly StoredResult[],
): DeviceView {
  const device = lab.devices.get(name);
  if (!device) throw new Error(`device ${name} of slot ${slot.name} is not in the model`);
  return {
    name,
    kind: device.spec.kind,
    description: device.spec.description ?? null,
    summary: describeDevice(device.spec),
    shared_with: device.usedBy.filter((s) => s !== slot.name),
    health: row?.state ?? 'unknown',
    health_since: isoOrNull(row?.stateChangedAt),
    consecutive_failures: row?.consecutiveFailures ?? 0,
    consecutive_successes: row?.consecutiveSuccesses ?? 0,
    total_checks: row?.totalChecks ?? 0,
    total_failures: row?.totalFailures ?? 0,
    last_check:
      row?.lastOk === null || row?.lastOk === undefined
        ? null
        : {
            ok: row.lastOk,
            reason: row.lastReason,
            detail: row.lastDetail,
            duration_ms: row.lastDurationMs,
            at: isoOrNull(row.lastCheckedAt),
          },
    history: history.map((h) => ({
      ok: h.ok,
      reason: h.reason,
      duration_ms: h.durationMs,
      at: new Date(h.at).toISOString(),
      trigger: h.trigger,
    })),
  };
}

function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
