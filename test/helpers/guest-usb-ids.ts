// Runs INSIDE the QEMU USB lab guest: where a USB device of a given identity
// is, read straight from sysfs, independent of labslot's own code (so a guest
// script can judge what labslot reports). Used by usb-cli-guest.ts and the
// hotplug benchmark's guest program.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readText, SYSFS_USB } from './guest-util.js';

export interface UsbId {
  vid: number;
  pid: number;
  serial: string;
}

/** The kernel's name of the USB device with this identity (e.g. "1-1"), straight from sysfs. */
export function sysfsName(id: UsbId): string | undefined {
  for (const name of readdirSync(SYSFS_USB)) {
    const dir = join(SYSFS_USB, name);
    const vid = readText(join(dir, 'idVendor'));
    if (vid === undefined || parseInt(vid, 16) !== id.vid) continue;
    if (parseInt(readText(join(dir, 'idProduct')) ?? '', 16) === id.pid && readText(join(dir, 'serial')) === id.serial)
      return name;
  }
  return undefined;
}

/** /dev/ttyUSBn of the adapter with this serial, once the kernel has made its node. */
export function ttyOf(serial: string): string | undefined {
  for (const tty of readdirSync('/sys/class/tty').filter((t) => /^ttyUSB\d+$/.test(t))) {
    try {
      for (let dir = realpathSync(`/sys/class/tty/${tty}/device`); dir !== '/sys'; dir = dirname(dir)) {
        if (!existsSync(join(dir, 'idVendor'))) continue;
        if (readText(join(dir, 'serial')) === serial && existsSync(`/dev/${tty}`)) return `/dev/${tty}`;
        break;
      }
    } catch {
      // Going away as we look.
    }
  }
  return undefined;
}

/** On the bus with its /dev/bus/usb node made. */
export function present(id: UsbId): boolean {
  const name = sysfsName(id);
  if (name === undefined) return false;
  const [bus, dev] = ['busnum', 'devnum'].map((f) =>
    String(Number(readText(join(SYSFS_USB, name, f)))).padStart(3, '0'),
  );
  return existsSync(`/dev/bus/usb/${bus ?? '?'}/${dev ?? '?'}`);
}

export const gone = (id: UsbId): boolean => sysfsName(id) === undefined;

/** A serial adapter with its tty made: what a console check needs. */
export const ttyReady = (serial: string): boolean => ttyOf(serial) !== undefined;
