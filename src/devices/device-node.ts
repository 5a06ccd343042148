// The device node a job uses for a device (the resolved serial tty, the
// probe's /dev/bus/usb/BBB/DDD), and the value of its LABSLOT_DEVICE_<NAME>
// variable; each kind says what its own are (kinds/).
import type { DeviceSpec } from '../config/schema.js';
import type { NodeLookup } from './kinds/device-kind.js';
import { kindOf } from './kinds/registry.js';
import type { UsbDeviceInfo } from './usb-bus.js';

export type { NodeLookup } from './kinds/device-kind.js';

export function deviceNode(spec: DeviceSpec, usb: () => Promise<UsbDeviceInfo[]>): Promise<NodeLookup> {
  return kindOf(spec).node(spec, usb);
}

/** What a job sees in LABSLOT_DEVICE_<NAME>: the node, the scoped address, host:port, or a description. */
export function deviceEnvValue(spec: DeviceSpec, node: string | null): string | undefined {
  return kindOf(spec).env(spec, node);
}

/** LABSLOT_DEVICE_GIMLET_1_SP for a device named "gimlet-1-sp". */
export function deviceEnvName(device: string): string {
  return `LABSLOT_DEVICE_${device.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
