// Every USB device on this host as sysfs describes it, with the ttys its
// interfaces provide and their /dev/serial links: what `labslot discover`
// lists. Only sysfs and /dev's links are read; no device is opened, because a
// job may be using a probe and opening it (libusb) can disturb its debugger.
// Both roots are parameters so tests can lay out a fake tree; the paths
// reported are the host's own (/dev/ttyUSB0), wherever they were read from.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { usbNode } from './usb-node.js';

export interface InventoryRoots {
  /** Where sysfs is mounted: /sys. */
  sysfs: string;
  /** Where devtmpfs is mounted: /dev. */
  dev: string;
}

export const HOST_ROOTS: InventoryRoots = { sysfs: '/sys', dev: '/dev' };

export interface UsbTty {
  /** Kernel name: ttyUSB0, ttyACM1. */
  name: string;
  /** /dev/ttyUSB0 */
  node: string;
  /** The USB interface that provides it (a multi-port adapter has one per port). */
  interface: number | undefined;
  /** udev's /dev/serial/by-id link to it, if udev made one. */
  byId: string | null;
  /** udev's /dev/serial/by-path link to it, if udev made one. */
  byPath: string | null;
}

export interface UsbHardware {
  vid: number;
  pid: number;
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
  busNumber: number;
  deviceAddress: number;
  /** The kernel's bus-port path, e.g. "1-2.3" (its name under /sys/bus/usb/devices). */
  usbPath: string;
  /** /dev/bus/usb/BBB/DDD */
  node: string;
  ttys: UsbTty[];
}

/** Hubs are plumbing, not lab hardware (bDeviceClass 09). */
const HUB_CLASS = 0x09;

/** Every USB device but root hubs and hubs, in bus-port order. A device unplugged while it is read is left out. */
export function readUsbInventory(roots: InventoryRoots = HOST_ROOTS): UsbHardware[] {
  const devicesDir = join(roots.sysfs, 'bus/usb/devices');
  let names: string[];
  try {
    names = readdirSync(devicesDir);
  } catch {
    return []; // No USB bus at all (a VM without a controller; a container without /sys/bus/usb).
  }
  const links = {
    byId: serialLinks(roots.dev, 'by-id'),
    byPath: serialLinks(roots.dev, 'by-path'),
  };
  const out: UsbHardware[] = [];
  // Interfaces ("1-2:1.0") and root hubs ("usb1") share the directory with devices ("1-2", "1-2.3").
  for (const usbPath of names.filter((n) => /^\d+-[\d.]+$/.test(n)).sort(byUsbPath)) {
    const dir = join(devicesDir, usbPath);
    const vid = readHex(join(dir, 'idVendor'));
    const pid = readHex(join(dir, 'idProduct'));
    const busNumber = readInt(join(dir, 'busnum'));
    const deviceAddress = readInt(join(dir, 'devnum'));
    if (vid === undefined || pid === undefined || busNumber === undefined || deviceAddress === undefined) continue;
    if (readHex(join(dir, 'bDeviceClass')) === HUB_CLASS) continue;
    out.push({
      vid,
      pid,
      serial: readText(join(dir, 'serial')),
      manufacturer: readText(join(dir, 'manufacturer')),
      product: readText(join(dir, 'product')),
      busNumber,
      deviceAddress,
      usbPath,
      node: usbNode(busNumber, deviceAddress),
      ttys: ttysOf(dir, usbPath).map(({ name, iface }) => ({
        name,
        node: `/dev/${name}`,
        interface: iface,
        byId: links.byId.get(name) ?? null,
        byPath: links.byPath.get(name) ?? null,
      })),
    });
  }
  return out;
}

/**
 * The ttys of a device's interfaces ("1-2:1.0", ...). cdc_acm puts them in
 * the interface's tty/ directory (1-2:1.0/tty/ttyACM0); usb-serial drivers
 * (ftdi_sio, cp210x, ch341, pl2303) make a port device named after the tty
 * (1-2:1.0/ttyUSB0).
 */
function ttysOf(dir: string, usbPath: string): { name: string; iface: number | undefined }[] {
  const out: { name: string; iface: number | undefined }[] = [];
  for (const entry of listDir(dir).filter((e) => e.startsWith(`${usbPath}:`))) {
    const ifaceDir = join(dir, entry);
    const iface = readHex(join(ifaceDir, 'bInterfaceNumber'));
    const names = [...listDir(join(ifaceDir, 'tty')), ...listDir(ifaceDir).filter((e) => /^tty[A-Za-z]+\d+$/.test(e))];
    for (const name of names) out.push({ name, iface });
  }
  return out.sort((a, b) => (a.iface ?? 0) - (b.iface ?? 0) || a.name.localeCompare(b.name));
}

/** tty name → /dev/serial/<kind>/LINK, from udev's links (absent without udev). */
function serialLinks(devRoot: string, kind: 'by-id' | 'by-path'): Map<string, string> {
  const dir = join(devRoot, 'serial', kind);
  const out = new Map<string, string>();
  for (const link of listDir(dir).sort()) {
    try {
      // udev's links are relative (../../ttyUSB0); only the tty's name matters.
      const tty = basename(readlinkSync(join(dir, link)));
      if (!out.has(tty)) out.set(tty, `/dev/serial/${kind}/${link}`);
    } catch {
      // Not a link, or removed as we read.
    }
  }
  return out;
}

/**
 * The tty a configured console path names, read under `roots.dev`: "/dev/serial/by-id/..." → "ttyUSB0".
 * Undefined when it does not resolve, or resolves outside /dev.
 */
export function ttyNameOf(path: string, roots: InventoryRoots = HOST_ROOTS): string | undefined {
  if (!path.startsWith('/dev/')) return undefined;
  try {
    const real = realpathSync(join(roots.dev, path.slice('/dev/'.length)));
    return dirname(real) === realpathSync(roots.dev) ? basename(real) : undefined;
  } catch {
    return undefined;
  }
}

/** "1-2" < "1-2.3" < "1-10" < "2-1": bus, then each port, as numbers. */
function byUsbPath(a: string, b: string): number {
  const parts = (p: string): number[] => p.split(/[-.]/).map(Number);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function readHex(path: string): number | undefined {
  const text = readText(path);
  const value = text === null ? NaN : parseInt(text, 16);
  return Number.isNaN(value) ? undefined : value;
}

function readInt(path: string): number | undefined {
  const text = readText(path);
  const value = text === null ? NaN : parseInt(text, 10);
  return Number.isNaN(value) ? undefined : value;
}
