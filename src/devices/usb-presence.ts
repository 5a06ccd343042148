// Whether a device is USB hardware, for those that react to the bus changing
// (hotplug re-checks): probes and console adapters, and consoles configured
// by path (their adapter is USB too, only unnamed).
import type { DeviceSpec } from '../config/schema.js';
import { kindOf } from './kinds/registry.js';

export function onUsb(spec: DeviceSpec): boolean {
  return kindOf(spec).usb(spec) !== undefined;
}
