// Checks that relate several parts of a config: references between slots and
// devices, self-conflicts, one physical USB device claimed twice. They run on the
// raw TOML value next to the schema (not after it), so that a file with a type
// error in one device still gets its broken references reported in the same run.
import { withArticle } from '../words.js';
import { formatUsbId } from './usb-identity.js';

export interface RawIssue {
  path: PropertyKey[];
  message: string;
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringsIn(value: unknown): [number, string][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index): [number, string][] => (typeof item === 'string' ? [[index, item]] : []));
}

function knownList(names: Iterable<string>): string {
  const list = [...names].sort();
  return list.length === 0 ? 'none are defined' : `known: ${list.join(', ')}`;
}

export function crossCheck(raw: unknown): RawIssue[] {
  if (!isTable(raw)) return [];
  const issues: RawIssue[] = [];
  const devices = isTable(raw['devices']) ? raw['devices'] : {};
  const slots = isTable(raw['slots']) ? raw['slots'] : {};

  for (const [slotName, slot] of Object.entries(slots)) {
    if (!isTable(slot)) continue;
    const seenDevices = new Set<string>();
    for (const [index, deviceName] of stringsIn(slot['devices'])) {
      const path = ['slots', slotName, 'devices', index];
      if (!Object.hasOwn(devices, deviceName)) {
        issues.push({ path, message: `unknown device "${deviceName}" (${knownList(Object.keys(devices))})` });
      } else if (seenDevices.has(deviceName)) {
        issues.push({ path, message: `device "${deviceName}" is listed twice` });
      }
      seenDevices.add(deviceName);
    }
    const seenConflicts = new Set<string>();
    for (const [index, other] of stringsIn(slot['conflicts_with_slots'])) {
      const path = ['slots', slotName, 'conflicts_with_slots', index];
      if (other === slotName) issues.push({ path, message: 'a slot cannot conflict with itself' });
      else if (seenConflicts.has(other)) issues.push({ path, message: `slot "${other}" is listed twice` });
      else if (!Object.hasOwn(slots, other)) {
        issues.push({ path, message: `unknown slot "${other}" (${knownList(Object.keys(slots))})` });
      }
      seenConflicts.add(other);
    }
  }

  issues.push(...duplicateHardware(devices), ...placeholderIssues(devices, slots));
  return issues;
}

const PLACEHOLDER = /\{(tty|usb_node|address)(?::([^}]*))?\}/g;
const PLACEHOLDER_KIND = { tty: 'serial', usb_node: 'usb', address: 'ipv6' } as const;

/**
 * A command check's `{tty}`, `{usb_node}`, `{address}` must resolve to a device
 * of the slots that use it. Otherwise the check could open another slot's
 * console (perhaps one a job is using), or mean different devices per slot.
 */
function placeholderIssues(devices: Table, slots: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  const slotDevices = new Map<string, string[]>();
  for (const [slotName, slot] of Object.entries(slots)) {
    if (isTable(slot)) slotDevices.set(slotName, stringsIn(slot['devices']).map(([, d]) => d));
  }
  for (const [deviceName, spec] of Object.entries(devices)) {
    if (!isTable(spec) || spec['kind'] !== 'command') continue;
    const users = [...slotDevices].filter(([, list]) => list.includes(deviceName)).map(([slot]) => slot);
    for (const [index, arg] of stringsIn(spec['argv'])) {
      for (const match of arg.matchAll(PLACEHOLDER)) {
        const path = ['devices', deviceName, 'argv', index];
        const placeholder = match[1] as keyof typeof PLACEHOLDER_KIND;
        const kind = PLACEHOLDER_KIND[placeholder];
        const named = match[2];
        if (named === undefined) {
          if (users.length > 1) issues.push({ path, message: `${match[0]} is ambiguous in a check shared by slots ${users.join(', ')}: name the device, as in {${placeholder}:DEVICE}` });
          for (const slot of users) {
            const candidates = (slotDevices.get(slot) ?? []).filter((d) => isTable(devices[d]) && devices[d]['kind'] === kind);
            if (candidates.length === 0) issues.push({ path, message: `${match[0]} needs ${withArticle(kind)} device, and slot ${slot} has none` });
          }
          continue;
        }
        const target = devices[named];
        if (!isTable(target)) issues.push({ path, message: `${match[0]} names unknown device "${named}"` });
        else if (target['kind'] !== kind) issues.push({ path, message: `${match[0]}: device "${named}" is not ${withArticle(kind)} device` });
        else {
          const outside = users.filter((slot) => !(slotDevices.get(slot) ?? []).includes(named));
          if (outside.length > 0) issues.push({ path, message: `${match[0]}: device "${named}" is not part of slot ${outside.join(', ')}, which runs this check` });
        }
      }
    }
  }
  return issues;
}

/** What identifies a device's hardware, how to name it, and where to point when it repeats. */
interface HardwareKey {
  key: string;
  what: string;
  path: PropertyKey[];
}

function hardwareKey(deviceName: string, spec: Table): HardwareKey | undefined {
  const { kind } = spec;
  if (kind === 'power' && spec['driver'] === 'pdudaemon' && typeof spec['pdu'] === 'string' && typeof spec['port'] === 'number') {
    const url = typeof spec['url'] === 'string' ? spec['url'] : '';
    return { key: `pdu ${url} ${spec['pdu']} ${spec['port']}`, what: `outlet ${spec['pdu']} port ${spec['port']}`, path: ['devices', deviceName] };
  }
  if (kind === 'serial' && typeof spec['path'] === 'string') {
    return { key: `serial ${spec['path']}`, what: `console ${spec['path']}`, path: ['devices', deviceName] };
  }
  const identity = kind === 'usb' ? spec : kind === 'serial' && isTable(spec['usb']) ? spec['usb'] : undefined;
  if (!identity) return undefined;
  const { vid, pid, serial } = identity;
  if (typeof vid !== 'number' || typeof pid !== 'number' || typeof serial !== 'string') return undefined;
  // A probe and its own VCOM console share an identity legitimately (kind is part of the key);
  // lab-model.ts makes their slots conflict instead.
  const iface = typeof identity['interface'] === 'number' ? `/${identity['interface']}` : '';
  return {
    key: `${String(kind)} ${formatUsbId(vid, pid)} ${serial}${iface}`,
    what: `USB ${formatUsbId(vid, pid)} serial "${serial}"`,
    path: kind === 'usb' ? ['devices', deviceName] : ['devices', deviceName, 'usb'],
  };
}

/**
 * One physical probe, adapter, outlet or console must be one device: defined
 * twice, two slots would each believe they own it alone, and switch or open it at once.
 */
function duplicateHardware(devices: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  const owners = new Map<string, string>();
  for (const [deviceName, spec] of Object.entries(devices)) {
    const hardware = isTable(spec) ? hardwareKey(deviceName, spec) : undefined;
    if (!hardware) continue;
    const owner = owners.get(hardware.key);
    if (owner === undefined) owners.set(hardware.key, deviceName);
    else issues.push({ path: hardware.path, message: `${hardware.what} is already device "${owner}"; define it once and list it in every slot that uses it` });
  }
  return issues;
}
