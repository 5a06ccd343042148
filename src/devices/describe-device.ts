// One-line human descriptions of devices, for tables, the API and messages.
import type { DeviceSpec } from '../config/schema.js';
import { kindOf } from './kinds/registry.js';

export function describeDevice(spec: DeviceSpec): string {
  return kindOf(spec).describe(spec);
}
