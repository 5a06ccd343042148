// Where a USB device is in sysfs: its kernel name under /sys/bus/usb/devices
// (the bus-port path, "1-2.3") and the device-level driver bound to it, for
// a rebind (usb-rebind.ts). Found by bus number and address (what libusb's
// enumeration gave) or, failing that, by vid/pid/serial. The sysfs root is a
// parameter so tests can lay out a fake tree.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { UsbIdentity } from './usb-check.js';

export const HOST_SYSFS = '/sys';

/** By bus and address (unique while the device stays plugged in) or by identity. */
export type UsbSysfsKey = { busNumber: number; deviceAddress: number } | UsbIdentity;

export interface UsbSysfsDevice {
  /** Kernel name, e.g. "3-1" or "1-2.3". */
  name: string;
  /** Its directory: SYSFS/bus/usb/devices/NAME. */
  dir: string;
  /** The device-level driver bound to it ("usb" for all but a few), or null when none is. */
  driver: string | null;
}

/** A device's entry in sysfs, or undefined when no device there matches `key`. */
export function findUsbSysfsDevice(key: UsbSysfsKey, sysfs = HOST_SYSFS): UsbSysfsDevice | undefined {
  const devicesDir = join(sysfs, 'bus/usb/devices');
  let names: string[];
  try {
    names = readdirSync(devicesDir);
  } catch {
    return undefined; // No USB bus at all.
  }
  // Interfaces ("1-2:1.0") share the directory with devices; root hubs ("usb1") are never lab hardware.
  for (const name of names.filter((n) => /^\d+-[\d.]+$/.test(n)).sort()) {
    const dir = join(devicesDir, name);
    if (!matches(dir, key)) continue;
    return { name, dir, driver: driverOf(dir) };
  }
  return undefined;
}

function matches(dir: string, key: UsbSysfsKey): boolean {
  if ('busNumber' in key)
    return readInt(join(dir, 'busnum'), 10) === key.busNumber && readInt(join(dir, 'devnum'), 10) === key.deviceAddress;
  return (
    readInt(join(dir, 'idVendor'), 16) === key.vid &&
    readInt(join(dir, 'idProduct'), 16) === key.pid &&
    readText(join(dir, 'serial')) === key.serial
  );
}

/** The driver link's target names the driver (…/bus/usb/drivers/usb); no link, no driver. */
function driverOf(dir: string): string | null {
  try {
    return basename(readlinkSync(join(dir, 'driver')));
  } catch {
    return null;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined; // Removed as we read, or an attribute the device lacks (no serial string).
  }
}

function readInt(path: string, radix: 10 | 16): number | undefined {
  const text = readText(path);
  if (text === undefined || text === '') return undefined;
  const value = parseInt(text, radix);
  return Number.isNaN(value) ? undefined : value;
}
