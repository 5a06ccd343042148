// Every device kind, by the config's `kind`. Typed against the schema's union,
// so a kind added to the schema without a module here, or a module missing a
// function of the interface, fails to compile.
import type { DeviceSpec } from '../../config/schema.js';
import { commandKind } from './command.js';
import { consoleServerKind } from './console-server.js';
import type { CheckMode } from '../check-result.js';
import type { DeviceKind } from './device-kind.js';
import { ipv6Kind } from './ipv6.js';
import { powerKind } from './power.js';
import { serialKind } from './serial.js';
import { usbKind } from './usb.js';

export type KindName = DeviceSpec['kind'];

export const deviceKinds = {
  usb: usbKind,
  serial: serialKind,
  power: powerKind,
  ipv6: ipv6Kind,
  'console-server': consoleServerKind,
  command: commandKind,
} as const satisfies { [K in KindName]: DeviceKind<Extract<DeviceSpec, { kind: K }>> };

/** The module of a spec's kind, typed for that spec. */
export function kindOf<S extends DeviceSpec>(spec: S): DeviceKind<S> {
  // TypeScript cannot correlate a union key with the matching union member; the satisfies above guarantees it.
  return deviceKinds[spec.kind] as unknown as DeviceKind<S>;
}

/** The module for a kind named in a raw (unvalidated) config table, if it is one. */
export function kindNamed(kind: unknown): DeviceKind<never> | undefined {
  return typeof kind === 'string' && Object.hasOwn(deviceKinds, kind) ? deviceKinds[kind as KindName] : undefined;
}

/** The kinds whose devices fill a placeholder, by placeholder: `{tty}` is filled from a serial device. */
export function kindsFilling(placeholder: string): KindName[] {
  return (Object.keys(deviceKinds) as KindName[]).filter((k) => deviceKinds[k].placeholder === placeholder);
}

/** Whether a device is checked in a mode: a kind with only an active check (a command) is skipped on a leased slot. */
export function checksIn(spec: DeviceSpec, mode: CheckMode): boolean {
  return mode === 'active' || kindOf(spec).passive;
}
