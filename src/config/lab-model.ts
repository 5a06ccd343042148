// The validated config plus what the rest of labslot needs derived from it:
// which slots conflict (explicitly, in both directions, or through a shared
// device), which slots use each device, which slots serve each target.
import type { DeviceRules } from './device-rules.js';
import type { Config, DeviceSpec, Limits, ListenAddress, SlotSpec } from './schema.js';

export interface SlotModel {
  name: string;
  target: string;
  spec: SlotSpec;
  /** Devices in the order the config lists them. */
  devices: readonly string[];
  /** Every other slot that may not be leased while this one is, sorted. */
  conflicts: readonly string[];
  /** The slot's limits over the [jobs] defaults. */
  limits: Limits;
}

export interface DeviceModel {
  name: string;
  spec: DeviceSpec;
  /** Slots that list this device, sorted. Shared devices have several. */
  usedBy: readonly string[];
}

export interface LabModel {
  /** The config file this came from, for messages. */
  file: string;
  config: Config;
  agentName: string;
  stateDir: string;
  listen: ListenAddress;
  slots: ReadonlyMap<string, SlotModel>;
  devices: ReadonlyMap<string, DeviceModel>;
  /** Target name → its slots, sorted. */
  targets: ReadonlyMap<string, readonly string[]>;
}

export interface ModelOptions {
  file: string;
  agentName: string;
  stateDir: string;
  listen: ListenAddress;
}

/** Derives the model from a config that passed the schema and the cross-checks. */
export function buildLabModel(config: Config, rules: Pick<DeviceRules, 'hardwareOf'>, options: ModelOptions): LabModel {
  const usedBy = new Map<string, Set<string>>();
  const conflicts = new Map<string, Set<string>>();
  for (const name of Object.keys(config.slots)) conflicts.set(name, new Set());

  for (const [slotName, slot] of Object.entries(config.slots)) {
    for (const device of slot.devices) getOrCreate(usedBy, device).add(slotName);
    for (const other of slot.conflicts_with_slots) {
      getOrCreate(conflicts, slotName).add(other);
      getOrCreate(conflicts, other).add(slotName);
    }
  }
  // Devices that are one piece of hardware (an MCU-Link's probe and its VCOM console share a USB
  // identity) count as shared too.
  const byHardware = new Map<string, Set<string>>();
  for (const [name, spec] of Object.entries(config.devices)) {
    const key = rules.hardwareOf(spec) ?? `device:${name}`;
    for (const slot of usedBy.get(name) ?? []) getOrCreate(byHardware, key).add(slot);
  }
  for (const users of byHardware.values()) {
    for (const a of users) for (const b of users) if (a !== b) getOrCreate(conflicts, a).add(b);
  }

  const slots = new Map<string, SlotModel>();
  const targets = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(config.slots).sort(([a], [b]) => a.localeCompare(b))) {
    slots.set(name, {
      name,
      target: spec.target,
      spec,
      devices: spec.devices,
      conflicts: [...(conflicts.get(name) ?? [])].sort(),
      limits: { ...config.jobs.limits, ...definedOnly(spec.limits) },
    });
    const list = targets.get(spec.target) ?? [];
    list.push(name);
    targets.set(spec.target, list);
  }

  const devices = new Map<string, DeviceModel>();
  for (const [name, spec] of Object.entries(config.devices).sort(([a], [b]) => a.localeCompare(b))) {
    devices.set(name, { name, spec, usedBy: [...(usedBy.get(name) ?? [])].sort() });
  }

  return { ...options, config, slots, devices, targets };
}

function getOrCreate<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
