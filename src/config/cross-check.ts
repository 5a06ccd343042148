// Checks that relate several parts of a config: references between slots and
// devices, self-conflicts. They run on the raw TOML value next to the schema
// (not after it), so that a file with a type error in one device still gets
// its broken references reported in the same run. What depends on a device's
// kind (hardware defined twice, placeholders) is the kinds' (DeviceRules).
import type { RawIssue } from './device-rules.js';
import { isTable, stringsIn } from './raw-table.js';

export type { RawIssue } from './device-rules.js';

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

  return issues;
}
