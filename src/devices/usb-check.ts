// usb devices: the configured vid/pid/serial must be on the bus, with its
// device node present as a character device. Purely passive.
import { stat } from 'node:fs/promises';
import { formatUsbId } from '../config/usb-identity.js';
import { healthy, unhealthy, type Verdict } from './check-result.js';
import type { UsbDeviceInfo } from './usb-bus.js';

export interface UsbIdentity {
  vid: number;
  pid: number;
  serial: string;
}

export function findUsbDevice(devices: readonly UsbDeviceInfo[], want: UsbIdentity): UsbDeviceInfo | undefined {
  return devices.find((d) => d.vid === want.vid && d.pid === want.pid && d.serial === want.serial);
}

export async function checkUsb(want: UsbIdentity, devices: readonly UsbDeviceInfo[]): Promise<Verdict> {
  const id = formatUsbId(want.vid, want.pid);
  const found = findUsbDevice(devices, want);
  if (!found) {
    const sameModel = devices.filter((d) => d.vid === want.vid && d.pid === want.pid);
    const present =
      sameModel.length === 0
        ? `no ${id} device is present`
        : `present with ${id}: ${sameModel.map((d) => (d.serial === null ? `unknown serial at ${d.node}` : `serial ${d.serial}`)).join(', ')}`;
    // What *is* there belongs in the reason: "the other probe is plugged in" is often the whole story.
    return unhealthy(
      'not-present',
      `usb ${id} serial ${want.serial} not present (${present})`,
      `${devices.length} USB devices on the bus`,
    );
  }
  try {
    const info = await stat(found.node);
    if (!info.isCharacterDevice())
      return unhealthy('error', `usb ${id} serial ${want.serial}: ${found.node} is not a character device`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return unhealthy(
      'not-present',
      `usb ${id} serial ${want.serial}: device node ${found.node} missing (${code})`,
      'the device enumerated but udev has not created its node',
    );
  }
  return healthy(`usb ${id} serial ${want.serial} present`, found.node);
}
