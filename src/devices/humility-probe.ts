// The debug probe a device is for humility (HUMILITY_ENVIRONMENT), if its kind has one.
import type { DeviceSpec } from '../config/schema.js';
import type { HumilityProbeSpec } from './kinds/device-kind.js';
import { kindOf } from './kinds/registry.js';

export function humilityProbe(spec: DeviceSpec): HumilityProbeSpec | undefined {
  return kindOf(spec).humilityProbe(spec);
}
