// The device node a job uses for a device (the resolved serial tty, the
// probe's /dev/bus/usb/BBB/DDD), and the value of its LABSLOT_DEVICE_<NAME>
// variable. Power, IPv6 and command devices have no node to grant.
import type { DeviceSpec } from '../config/schema.js';
import { describeDevice } from './describe-device.js';
import { scopedAddress } from './ipv6-check.js';
import { resolveTty } from './serial-check.js';
import type { UsbDeviceInfo } from './usb-bus.js';
import { findUsbDevice } from './usb-check.js';

export type NodeLookup = { node: string } | { node: null } | { missing: string };

export async function deviceNode(spec: DeviceSpec, usb: () => Promise<UsbDeviceInfo[]>): Promise<NodeLookup> {
  switch (spec.kind) {
    case 'serial': {
      const tty = await resolveTty(spec);
      return tty.ok ? { node: tty.tty } : { missing: tty.verdict.reason };
    }
    case 'usb': {
      const found = findUsbDevice(await usb(), spec);
      return found ? { node: found.node } : { missing: `${describeDevice(spec)} is not on the bus` };
    }
    default:
      return { node: null };
  }
}

/** What a job sees in LABSLOT_DEVICE_<NAME>: the node, the scoped address, or a description. */
export function deviceEnvValue(spec: DeviceSpec, node: string | null): string | undefined {
  if (node !== null) return node;
  if (spec.kind === 'ipv6') return scopedAddress(spec);
  if (spec.kind === 'power') return describeDevice(spec);
  return undefined;
}

/** LABSLOT_DEVICE_GIMLET_1_SP for a device named "gimlet-1-sp". */
export function deviceEnvName(device: string): string {
  return `LABSLOT_DEVICE_${device.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
