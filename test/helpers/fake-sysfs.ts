// A fake /sys and /dev in a directory, laid out as Linux lays out USB devices,
// for tests of what labslot reads from sysfs (usb-inventory.ts) without a USB
// bus: a device's attributes, its interfaces with their ttys (cdc_acm's
// INTERFACE/tty/ttyACM0 and usb-serial's INTERFACE/ttyUSB0), the tty nodes and
// udev's /dev/serial/by-id and by-path links, and a device's driver link with
// the driver's bind and unbind files.
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InventoryRoots } from '../../src/devices/usb-inventory.js';

export interface FakeTty {
  /** ttyUSB0 or ttyACM0: which driver layout is made follows the name. */
  name: string;
  interface: number;
  byId?: string;
  byPath?: string;
}

export interface FakeUsbDevice {
  /** "1-2.3" */
  usbPath: string;
  vid: number;
  pid: number;
  serial?: string;
  manufacturer?: string;
  product?: string;
  devnum: number;
  /** bDeviceClass; 9 is a hub. */
  deviceClass?: number;
  ttys?: readonly FakeTty[];
  /** The device-level driver bound to it ("usb"): its directory under bus/usb/drivers gets bind and unbind files. */
  driver?: string;
}

export class FakeSysfs {
  readonly roots: InventoryRoots;

  constructor(dir: string) {
    this.roots = { sysfs: join(dir, 'sys'), dev: join(dir, 'dev') };
    mkdirSync(join(this.roots.sysfs, 'bus/usb/devices'), { recursive: true });
    mkdirSync(join(this.roots.dev, 'serial'), { recursive: true });
    // Root hubs share the directory and are never lab hardware.
    this.write(join(this.devices, 'usb1'), {
      idVendor: '1d6b',
      idProduct: '0002',
      busnum: '1',
      devnum: '1',
      bDeviceClass: '09',
    });
  }

  private get devices(): string {
    return join(this.roots.sysfs, 'bus/usb/devices');
  }

  /** A tty node that is no USB device's (an on-board UART). */
  addNode(name: string): void {
    writeFileSync(join(this.roots.dev, name), '');
  }

  add(device: FakeUsbDevice): this {
    const dir = join(this.devices, device.usbPath);
    const hex = (n: number): string => n.toString(16).padStart(4, '0');
    this.write(dir, {
      idVendor: hex(device.vid),
      idProduct: hex(device.pid),
      busnum: device.usbPath.split('-')[0] ?? '1',
      devnum: String(device.devnum),
      bDeviceClass: (device.deviceClass ?? 0).toString(16).padStart(2, '0'),
      ...(device.serial === undefined ? {} : { serial: device.serial }),
      ...(device.manufacturer === undefined ? {} : { manufacturer: device.manufacturer }),
      ...(device.product === undefined ? {} : { product: device.product }),
    });
    if (device.driver !== undefined) {
      const driverDir = this.driverDir(device.driver);
      symlinkSync(driverDir, join(dir, 'driver'));
    }
    for (const tty of device.ttys ?? []) {
      const name = `${device.usbPath}:1.${tty.interface}`;
      const iface = join(dir, name);
      this.write(iface, { bInterfaceNumber: tty.interface.toString(16).padStart(2, '0') });
      // sysfs lists interfaces next to devices too (as links into the device's directory).
      symlinkSync(iface, join(this.devices, name));
      mkdirSync(tty.name.startsWith('ttyACM') ? join(iface, 'tty', tty.name) : join(iface, tty.name, 'tty', tty.name), {
        recursive: true,
      });
      this.addNode(tty.name);
      for (const [kind, link] of [
        ['by-id', tty.byId],
        ['by-path', tty.byPath],
      ] as const) {
        if (link === undefined) continue;
        mkdirSync(join(this.roots.dev, 'serial', kind), { recursive: true });
        symlinkSync(`../../${tty.name}`, join(this.roots.dev, 'serial', kind, link));
      }
    }
    return this;
  }

  /** bus/usb/drivers/NAME with empty bind and unbind files (made once): what a rebind writes to. */
  driverDir(driver: string): string {
    const dir = join(this.roots.sysfs, 'bus/usb/drivers', driver);
    if (!existsSync(dir)) this.write(dir, { bind: '', unbind: '' });
    return dir;
  }

  private write(dir: string, files: Record<string, string>): void {
    mkdirSync(dir, { recursive: true });
    // sysfs attributes end with a newline; readers must trim it.
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), `${text}\n`);
  }
}
