// What is on the USB bus, as libusb (the `usb` package, v2) enumerates it.
// Serial numbers come from sysfs on Linux so that no device is opened (opening
// a probe can disturb a debugger attached to it); only where sysfs lacks the
// string is the descriptor read, and only for devices with the wanted vid:pid.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDeviceList, type Device } from 'usb';
import { usbNode } from './usb-node.js';

export interface UsbDeviceInfo {
  vid: number;
  pid: number;
  serial: string | null;
  busNumber: number;
  deviceAddress: number;
  /** The node a job opens: /dev/bus/usb/BBB/DDD. */
  node: string;
  /** Kernel name under /sys/bus/usb/devices, e.g. "1-2.3", or "usb1" for a root hub. */
  sysfsName: string;
}

const SYSFS_USB = '/sys/bus/usb/devices';
const DESCRIPTOR_TIMEOUT_MS = 1_000;

/** Enumerates the bus. Descriptors are read (opening the device) only for vid:pid pairs `wanted` accepts. */
export async function listUsbDevices(wanted?: (vid: number, pid: number) => boolean): Promise<UsbDeviceInfo[]> {
  const devices = getDeviceList();
  const out: UsbDeviceInfo[] = [];
  for (const device of devices) {
    const { idVendor: vid, idProduct: pid } = device.deviceDescriptor;
    // Root hubs have no port numbers (sysfs names them usbN); the usb package then leaves
    // portNumbers undefined, whatever its type declaration says.
    const ports = device.portNumbers as readonly number[] | undefined;
    const sysfsName =
      ports !== undefined && ports.length > 0 ? `${device.busNumber}-${ports.join('.')}` : `usb${device.busNumber}`;
    // Right after an unplug libusb may still list the device while the kernel has dropped it:
    // on Linux a device without its sysfs directory is gone, and is neither listed nor opened.
    if (existsSync(SYSFS_USB) && !existsSync(join(SYSFS_USB, sysfsName))) continue;
    let serial = readSysfs(join(SYSFS_USB, sysfsName, 'serial'));
    if (serial === null && device.deviceDescriptor.iSerialNumber !== 0 && wanted?.(vid, pid) === true) {
      serial = await readSerialDescriptor(device);
    }
    out.push({
      vid,
      pid,
      serial,
      busNumber: device.busNumber,
      deviceAddress: device.deviceAddress,
      node: usbNode(device.busNumber, device.deviceAddress),
      sysfsName,
    });
  }
  return out;
}

function readSysfs(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Fallback for systems without sysfs serials; opens the device briefly. */
async function readSerialDescriptor(device: Device): Promise<string | null> {
  try {
    device.open(false);
  } catch {
    return null;
  }
  try {
    return await new Promise<string | null>((resolve) => {
      // A wedged device may never answer; its serial is then unknown, not worth a hung check.
      const timer = setTimeout(() => resolve(null), DESCRIPTOR_TIMEOUT_MS);
      device.getStringDescriptor(device.deviceDescriptor.iSerialNumber, (error, value) => {
        clearTimeout(timer);
        resolve(error || value === undefined ? null : value);
      });
    });
  } finally {
    try {
      device.close();
    } catch {
      // The device may have gone away while we read it; nothing to release then.
    }
  }
}
