// Finding a console's tty: a configured path (often a /dev/serial/by-id link)
// resolved to the node it points at, or the tty that belongs to a USB adapter
// with a given vid/pid/serial (and interface, for multi-port adapters), by sysfs.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TtyUsbIdentity {
  vid: number;
  pid: number;
  serial: string;
  interface?: number | undefined;
}

const SYS_CLASS_TTY = '/sys/class/tty';

/** The tty node for a USB identity, or undefined when no tty of that adapter is present. */
export function findTtyByUsb(want: TtyUsbIdentity, sysClassTty = SYS_CLASS_TTY): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(sysClassTty);
  } catch {
    return undefined;
  }
  const matches: { tty: string; iface: number | undefined }[] = [];
  for (const tty of entries) {
    let dir: string;
    try {
      dir = realpathSync(join(sysClassTty, tty, 'device'));
    } catch {
      continue; // Virtual terminals and PTYs have no device link.
    }
    let iface: number | undefined;
    // Walk up from the tty's device to the USB device that owns it.
    for (let up = dir; up !== '/' && up !== '/sys'; up = dirname(up)) {
      const interfaceNumber = readText(join(up, 'bInterfaceNumber'));
      if (interfaceNumber !== undefined && iface === undefined) iface = parseInt(interfaceNumber, 16);
      const vid = readText(join(up, 'idVendor'));
      if (vid === undefined) continue;
      const pid = readText(join(up, 'idProduct'));
      const serial = readText(join(up, 'serial'));
      if (
        parseInt(vid, 16) === want.vid &&
        pid !== undefined &&
        parseInt(pid, 16) === want.pid &&
        serial === want.serial
      ) {
        matches.push({ tty, iface });
      }
      break;
    }
  }
  const chosen =
    want.interface === undefined
      ? matches.sort((a, b) => (a.iface ?? 0) - (b.iface ?? 0))[0]
      : matches.find((m) => m.iface === want.interface);
  return chosen && existsSync(`/dev/${chosen.tty}`) ? `/dev/${chosen.tty}` : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
