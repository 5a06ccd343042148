// The device kinds' part of loading a config (config/device-rules.ts): one
// piece of hardware defined twice, command placeholders that cannot resolve,
// and which devices are one physical thing. Run on the raw TOML, as the other
// cross-checks are, so a type error elsewhere does not hide these.
import type { DeviceRules, RawIssue } from '../config/device-rules.js';
import { isTable, stringsIn, type Table } from '../config/raw-table.js';
import { withArticle } from '../words.js';
import { kindNamed, kindOf, kindsFilling } from './kinds/registry.js';

export const deviceRules: DeviceRules = {
  rawIssues(raw) {
    if (!isTable(raw)) return [];
    const devices = isTable(raw['devices']) ? raw['devices'] : {};
    const slots = isTable(raw['slots']) ? raw['slots'] : {};
    return [
      ...duplicateHardware(devices),
      ...placeholderIssues(devices, slots),
      ...powerAfterJobIssues(devices, slots),
      ...recoveryIssues(devices, slots),
    ];
  },
  hardwareOf(spec) {
    const on = kindOf(spec).usb(spec);
    return on !== undefined && 'identity' in on
      ? `${on.identity.vid}:${on.identity.pid}:${on.identity.serial}`
      : undefined;
  },
};

/**
 * One physical probe, adapter, outlet or console must be one device: defined
 * twice, two slots would each believe they own it alone, and switch or open it at once.
 */
function duplicateHardware(devices: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  const owners = new Map<string, string>();
  for (const [deviceName, spec] of Object.entries(devices)) {
    const hardware = isTable(spec) ? kindNamed(spec['kind'])?.hardware(spec) : undefined;
    if (!hardware) continue;
    const owner = owners.get(hardware.key);
    if (owner === undefined) owners.set(hardware.key, deviceName);
    else
      issues.push({
        path: ['devices', deviceName, ...hardware.at],
        message: `${hardware.what} is already device "${owner}"; define it once and list it in every slot that uses it`,
      });
  }
  return issues;
}

/** `power_after_job = "on"|"off"` promises an outlet's state after each job: a slot without an outlet cannot keep it. */
function powerAfterJobIssues(devices: Table, slots: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  for (const [slotName, slot] of Object.entries(slots)) {
    const wanted = isTable(slot) ? slot['power_after_job'] : undefined;
    if (!isTable(slot) || (wanted !== 'on' && wanted !== 'off')) continue;
    const outlets = stringsIn(slot['devices']).filter(([, d]) => {
      const spec = devices[d];
      return isTable(spec) && kindNamed(spec['kind'])?.outlet !== undefined;
    });
    if (outlets.length === 0)
      issues.push({
        path: ['slots', slotName, 'power_after_job'],
        message: `"${wanted}" needs a power device in the slot's devices, and it has none (or set "as-is")`,
      });
  }
  return issues;
}

/**
 * Recovery steps a device could never take (DESIGN §9): a power cycle in a
 * slot without an outlet, a USB reset or rebind of something that is not USB
 * hardware labslot can find, a "command" step with no recover_command.
 * Found now, not when a testbed is already failing.
 */
function recoveryIssues(devices: Table, slots: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  const seen = new Set<string>();
  for (const [slotName, slot] of Object.entries(slots)) {
    if (!isTable(slot)) continue;
    const hasOutlet = stringsIn(slot['devices']).some(([, d]) => {
      const spec = devices[d];
      return isTable(spec) && kindNamed(spec['kind'])?.outlet !== undefined;
    });
    for (const [, deviceName] of stringsIn(slot['devices'])) {
      const spec = devices[deviceName];
      if (!isTable(spec)) continue;
      const own = Array.isArray(spec['recover']);
      const steps = stringsIn(own ? spec['recover'] : slot['recover']);
      const at = own ? ['devices', deviceName, 'recover'] : ['slots', slotName, 'recover'];
      for (const [index, step] of steps) {
        const problem =
          step === 'power-cycle' && !hasOutlet
            ? `"power-cycle" needs a power device in slot ${slotName}, and it has none`
            : (step === 'usb-reset' || step === 'usb-rebind') && !isUsbHardware(spec)
              ? `"${step}" needs USB hardware labslot can find by vid/pid/serial, and ${deviceName} is not (a usb device, or a serial console given by "usb")`
              : step === 'command' && !Array.isArray(spec['recover_command']) && !Array.isArray(slot['recover_command'])
                ? `"command" needs recover_command (on ${deviceName} or on slot ${slotName}): the program to run`
                : undefined;
        const key = `${at.join('.')}[${index}]:${problem ?? ''}`;
        if (problem === undefined || seen.has(key)) continue;
        seen.add(key);
        issues.push({ path: [...at, index], message: problem });
      }
    }
  }
  return issues;
}

/**
 * A device a USB reset or rebind can reach: one that names its USB identity
 * ("usb 1fc9:0143 SERIAL", "serial 0403:6001 SERIAL"). A console given by path
 * ("serial /dev/ttyUSB0") has a hardware key too, but no identity to find on the bus.
 */
function isUsbHardware(spec: Table): boolean {
  const hardware = kindNamed(spec['kind'])?.hardware(spec);
  return hardware !== undefined && /^(usb|serial) [0-9a-f]{4}:[0-9a-f]{4} /i.test(hardware.key);
}

const PLACEHOLDER = /\{(tty|usb_node|address)(?::([^}]*))?\}/g;

/**
 * A command check's `{tty}`, `{usb_node}`, `{address}` must resolve to a device
 * of the slots that use it. Otherwise the check could open another slot's
 * console (perhaps one a job is using), or mean different devices per slot.
 */
function placeholderIssues(devices: Table, slots: Table): RawIssue[] {
  const issues: RawIssue[] = [];
  const slotDevices = new Map<string, string[]>();
  for (const [slotName, slot] of Object.entries(slots)) {
    if (isTable(slot))
      slotDevices.set(
        slotName,
        stringsIn(slot['devices']).map(([, d]) => d),
      );
  }
  const fills = (device: unknown, placeholder: string): boolean =>
    isTable(device) && kindNamed(device['kind'])?.placeholder === placeholder;
  for (const [deviceName, spec] of Object.entries(devices)) {
    const key = isTable(spec) ? kindNamed(spec['kind'])?.placeholdersIn : undefined;
    if (!isTable(spec) || key === undefined) continue;
    const users = [...slotDevices].filter(([, list]) => list.includes(deviceName)).map(([slot]) => slot);
    for (const [index, arg] of stringsIn(spec[key])) {
      for (const match of arg.matchAll(PLACEHOLDER)) {
        const path = ['devices', deviceName, key, index];
        const placeholder = match[1] ?? '';
        const kind = kindsFilling(placeholder).join(' or ');
        const named = match[2];
        if (named === undefined) {
          if (users.length > 1)
            issues.push({
              path,
              message: `${match[0]} is ambiguous in a check shared by slots ${users.join(', ')}: name the device, as in {${placeholder}:DEVICE}`,
            });
          for (const slot of users) {
            const candidates = (slotDevices.get(slot) ?? []).filter((d) => fills(devices[d], placeholder));
            if (candidates.length === 0)
              issues.push({
                path,
                message: `${match[0]} needs ${withArticle(kind)} device, and slot ${slot} has none`,
              });
          }
          continue;
        }
        const target = devices[named];
        if (!isTable(target)) issues.push({ path, message: `${match[0]} names unknown device "${named}"` });
        else if (!fills(target, placeholder))
          issues.push({ path, message: `${match[0]}: device "${named}" is not ${withArticle(kind)} device` });
        else {
          const outside = users.filter((slot) => !(slotDevices.get(slot) ?? []).includes(named));
          if (outside.length > 0)
            issues.push({
              path,
              message: `${match[0]}: device "${named}" is not part of slot ${outside.join(', ')}, which runs this check`,
            });
        }
      }
    }
  }
  return issues;
}
