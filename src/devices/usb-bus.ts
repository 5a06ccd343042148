// What is on the USB bus, as libusb (the `usb` package, v2) enumerates it.
// Serial numbers come from sysfs on Linux so that no device is opened (opening
// a probe can disturb a debugger attached to it); only where sysfs lacks the
// string is the descriptor read, and only for devices with the wanted vid:pid.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDeviceList, type Device } from 'usb';

export interface UsbDeviceInfo {
  vid: number;
  pid: number;
  serial: string | null;
  busNumber: number;
  deviceAddress: number;
  /** The node a job opens: /dev/bus/usb/BBB/DDD. */
  node: string;
  /** Kernel name under /sys/bus/usb/devices, e.g. "1-2.3"; null for root hubs. */
  sysfsName: string | null;
}

const SYSFS_USB = '/sys/bus/usb/devices';

export function usbNode(busNumber: number, deviceAddress: number): string {
  return `/dev/bus/usb/${String(busNumber).padStart(3, '0')}/${String(deviceAddress).padStart(3, '0')}`;
}

/** Enumerates the bus; `wanted` limits descriptor reads to the vid:pid pairs a caller cares about. */
export async function listUsbDevices(wanted?: (vid: number, pid: number) => boolean): Promise<UsbDeviceInfo[]> {
  const devices = getDeviceList();
  const out: UsbDeviceInfo[] = [];
  for (const device of devices) {
    const { idVendor: vid, idProduct: pid } = device.deviceDescriptor;
    const sysfsName = device.portNumbers.length > 0 ? `${device.busNumber}-${device.portNumbers.join('.')}` : null;
    let serial = sysfsName ? readSysfs(join(SYSFS_USB, sysfsName, 'serial')) : null;
    if (serial === null && device.deviceDescriptor.iSerialNumber !== 0 && (wanted?.(vid, pid) ?? true)) {
      serial = await readSerialDescriptor(device);
    }
    out.push({ vid, pid, serial, busNumber: device.busNumber, deviceAddress: device.deviceAddress, node: usbNode(device.busNumber, device.deviceAddress), sysfsName });
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
      device.getStringDescriptor(device.deviceDescriptor.iSerialNumber, (error, value) => resolve(error || value === undefined ? null : value));
    });
  } finally {
    try {
      device.close();
    } catch {
      // The device may have gone away while we read it; nothing to release then.
    }
  }
}
