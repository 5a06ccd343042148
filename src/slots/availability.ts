// Which slots could take a job right now, and if not, why (DESIGN §2): idle,
// no hold, every device healthy, no conflicting slot in use, host healthy.
// The fresh pre-lease check comes after this, in the scheduler.
import { inArray } from 'drizzle-orm';
import type { Unavailable } from '../api/slot.js';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import type { DeviceHealthState } from '../db/schema.js';
import { deviceHealth } from '../db/schema.js';
import { readSlotStates, type SlotState } from './slot-states.js';

export type SlotAvailability =
  | { available: true }
  | {
      available: false;
      why: Unavailable;
      /** A held slot only: what it would be without the hold, for a job an operator allowed on it (`--allow-held`). */
      unheld?: SlotAvailability;
    };

export interface HostState {
  ok: boolean | null;
  reason: string;
}

/** A device's health as availability needs it (a device_health row fits). */
export interface DeviceHealthSummary {
  state: DeviceHealthState;
  lastReason: string | null;
}

export function slotAvailability(lab: LabModel, db: Db, host: HostState): Map<string, SlotAvailability> {
  const devices = [...lab.devices.keys()];
  const rows =
    devices.length === 0
      ? []
      : db
          .select({ device: deviceHealth.device, state: deviceHealth.state, lastReason: deviceHealth.lastReason })
          .from(deviceHealth)
          .where(inArray(deviceHealth.device, devices))
          .all();
  return availabilityOf(lab, readSlotStates(db, [...lab.slots.keys()]), new Map(rows.map((r) => [r.device, r])), host);
}

/** The same from state already read; `states` must cover every slot, since conflicts look at the others. */
export function availabilityOf(
  lab: LabModel,
  states: ReadonlyMap<string, SlotState>,
  health: ReadonlyMap<string, DeviceHealthSummary>,
  host: HostState,
): Map<string, SlotAvailability> {
  const out = new Map<string, SlotAvailability>();
  for (const slot of lab.slots.values()) {
    const state = states.get(slot.name);
    const unheld = ((): SlotAvailability => {
      const why = unavailableUnheld(slot, state, states, health, host);
      return why === undefined ? { available: true } : { available: false, why };
    })();
    // A hold is a lasting problem an operator must act on: it comes before passing ones (another job running).
    out.set(
      slot.name,
      state?.hold
        ? { available: false, why: { kind: 'held', detail: `${state.hold.source}: ${state.hold.reason}` }, unheld }
        : unheld,
    );
  }
  return out;
}

/** Why a slot cannot take a job apart from any hold, or undefined when it can. */
function unavailableUnheld(
  slot: SlotModel,
  state: SlotState | undefined,
  states: ReadonlyMap<string, SlotState>,
  health: ReadonlyMap<string, DeviceHealthSummary>,
  host: HostState,
): Unavailable | undefined {
  const sick = slot.devices.filter((d) => health.get(d)?.state === 'unhealthy');
  if (sick.length > 0)
    return {
      kind: 'unhealthy',
      detail: sick.map((d) => `${d}: ${health.get(d)?.lastReason ?? 'unhealthy'}`).join('; '),
    };
  const unknown = slot.devices.filter((d) => (health.get(d)?.state ?? 'unknown') === 'unknown');
  if (unknown.length > 0) return { kind: 'unknown-health', detail: `not checked yet: ${unknown.join(', ')}` };
  if (state && state.usage !== 'idle') return { kind: 'in-use', detail: state.usage };
  const busy = slot.conflicts.find((other) => (states.get(other)?.usage ?? 'idle') !== 'idle');
  if (busy !== undefined) return { kind: 'conflict', detail: `${busy} is in use` };
  if (host.ok !== true) return { kind: 'host', detail: host.reason };
  return undefined;
}

/** Each reason in words, in the order a target's waiting reason lists them: lasting problems first. */
const LABELS: Readonly<Record<Unavailable['kind'], string>> = {
  held: 'held',
  unhealthy: 'unhealthy',
  'unknown-health': 'not checked yet',
  'in-use': 'in use',
  conflict: 'blocked by a conflicting slot',
  host: 'waiting for the host',
};

/** "gimlet: 1 held, 1 unhealthy (gimlet-2-sp: usb ... not present), 0 free" for a queued job. */
export function waitingReason(
  lab: LabModel,
  target: string,
  availability: ReadonlyMap<string, SlotAvailability>,
): string {
  const slots = lab.targets.get(target);
  if (slots === undefined) return `${target}: no slot on this host serves this target any more`;
  const counts = new Map<Unavailable['kind'], string[]>();
  let free = 0;
  for (const name of slots) {
    const a = availability.get(name);
    if (!a || a.available) {
      free += 1;
      continue;
    }
    const list = counts.get(a.why.kind) ?? [];
    list.push(
      a.why.kind === 'unhealthy' || a.why.kind === 'host' || a.why.kind === 'unknown-health' ? a.why.detail : name,
    );
    counts.set(a.why.kind, list);
  }
  const parts: string[] = [];
  for (const [kind, label] of Object.entries(LABELS) as [Unavailable['kind'], string][]) {
    const list = counts.get(kind);
    if (!list) continue;
    parts.push(
      kind === 'unhealthy' || kind === 'host'
        ? `${list.length} ${label} (${[...new Set(list)].join('; ')})`
        : `${list.length} ${label}`,
    );
  }
  parts.push(`${free} free`);
  return `${target}: ${parts.join(', ')}`;
}

/** "slot gimlet-2: held (operator: reflashing RoT)" for a job that asked for one slot. */
export function slotWaitingReason(slot: string, availability: SlotAvailability | undefined): string {
  if (availability === undefined) return `slot ${slot}: no such slot on this host any more`;
  if (availability.available) return `slot ${slot}: free`;
  const { kind, detail } = availability.why;
  // Its detail says it already: "not checked yet: gimlet-2-sp".
  if (kind === 'unknown-health') return `slot ${slot}: ${detail}`;
  return `slot ${slot}: ${LABELS[kind]} (${detail})`;
}
