// `labslot discover`'s answer: the debug probes and serial adapters plugged
// into this host (usb-inventory.ts), each with its model and the configured
// devices it is, and the configured USB devices that are not plugged in. The
// kinds say how a device sits on the bus (DeviceKind.usb), so a kind added
// later is matched without a change here.
import type { LabModel } from '../config/lab-model.js';
import { formatUsbId } from '../config/usb-identity.js';
import { kindOf } from './kinds/registry.js';
import type { UsbPresence } from './kinds/device-kind.js';
import { probeModel, type ProbeModel } from './probe-models.js';
import { HOST_ROOTS, ttyNameOf, type InventoryRoots, type UsbHardware } from './usb-inventory.js';

export interface ConfiguredAs {
  /** The configured device's name. */
  device: string;
  kind: string;
  /** The slots that list it. */
  slots: readonly string[];
  /** What it is of the hardware: the probe itself, or a console on one of its ttys. */
  as: 'probe' | 'console';
  /** A console's tty (/dev/ttyUSB0), the one its check opens; null for a probe, or an adapter with no tty now. */
  tty: string | null;
}

export interface DiscoveredDevice extends UsbHardware {
  /** Undefined: a device of no model labslot knows, listed for its tty or because the config names it. */
  model: ProbeModel | undefined;
  /** The configured devices this hardware is (a probe and its VCOM console are two); empty when none is. */
  configuredAs: ConfiguredAs[];
}

export interface AbsentDevice {
  device: string;
  kind: string;
  /** As the kind describes it: "usb 1fc9:0143 serial X". */
  what: string;
  slots: readonly string[];
}

export interface Discovery {
  devices: DiscoveredDevice[];
  absent: AbsentDevice[];
}

/** Matches what is plugged in against the lab's devices (none without a config). */
export function discover(
  inventory: readonly UsbHardware[],
  lab: LabModel | undefined,
  roots: InventoryRoots = HOST_ROOTS,
): Discovery {
  const devices: DiscoveredDevice[] = inventory.map((hw) => ({
    ...hw,
    model: probeModel(hw.vid, hw.pid, hw.product),
    configuredAs: [],
  }));
  const absent: AbsentDevice[] = [];
  for (const device of lab?.devices.values() ?? []) {
    const on = kindOf(device.spec).usb(device.spec);
    if (on === undefined) continue;
    const named = { device: device.name, kind: device.spec.kind, slots: device.usedBy };
    let found = false;
    for (const d of devices) {
      const tty = matchedTty(on, d, roots);
      if (tty === undefined) continue;
      found = true;
      d.configuredAs.push({ ...named, as: on.as, tty: tty === null ? null : `/dev/${tty}` });
    }
    // A path that resolves to a tty of no USB device (an on-board UART, a console server's pty) is there,
    // only not discoverable; it is absent only when nothing is at the path.
    if (!found && ('identity' in on || ttyNameOf(on.path, roots) === undefined))
      absent.push({ ...named, what: kindOf(device.spec).describe(device.spec) });
  }
  return {
    // Probes and adapters, and whatever else the config names; not keyboards, disks and webcams.
    devices: devices.filter((d) => d.model !== undefined || d.ttys.length > 0 || d.configuredAs.length > 0),
    absent: absent.sort((a, b) => a.device.localeCompare(b.device)),
  };
}

/**
 * Whether the configured device is this hardware: undefined when not; else the tty name a console
 * uses (the one serial-tty.ts would pick), or null (a probe; an adapter whose driver made no tty).
 */
function matchedTty(on: UsbPresence, device: UsbHardware, roots: InventoryRoots): string | null | undefined {
  if ('path' in on) {
    const tty = ttyNameOf(on.path, roots);
    return device.ttys.some((t) => t.name === tty) ? tty : undefined;
  }
  const { vid, pid, serial } = on.identity;
  if (device.vid !== vid || device.pid !== pid || device.serial !== serial) return undefined;
  if (on.as === 'probe') return null;
  // Without an interface the console is the lowest-numbered port's (ttys are sorted so); with one, that
  // port's, and a console on a port that is not there is absent.
  const tty = on.interface === undefined ? device.ttys[0] : device.ttys.find((t) => t.interface === on.interface);
  if (tty === undefined && on.interface !== undefined) return undefined;
  return tty?.name ?? null;
}

/** "1fc9:0143" */
export const usbIdOf = (d: UsbHardware): string => formatUsbId(d.vid, d.pid);
