// serial: a console tty, by path or by its USB adapter's identity. Passive:
// the node resolves to a character device (never opened: a job may be using
// it). Active: exclusive open and the probe exchange. A job is granted the
// resolved tty.
import { formatUsbId } from '../../config/usb-identity.js';
import type { DeviceSpec } from '../../config/schema.js';
import { checkSerial, resolveTty } from '../serial-check.js';
import { isTable } from '../../config/raw-table.js';
import { recoverUsbDevice } from '../usb-recover.js';
import { nothingToRecover, type DeviceKind } from './device-kind.js';
import { rawUsbHardware } from './raw-usb-hardware.js';

type SerialSpec = Extract<DeviceSpec, { kind: 'serial' }>;

export const serialKind: DeviceKind<SerialSpec> = {
  describe: (spec) =>
    spec.path !== undefined
      ? `serial ${spec.path} @${spec.baud}`
      : `serial usb ${formatUsbId(spec.usb?.vid ?? 0, spec.usb?.pid ?? 0)} serial ${spec.usb?.serial ?? ''} @${spec.baud}`,
  passive: true,
  check: (spec, ctx) => checkSerial(spec, ctx),
  // An active console probe waits for its own answer on top of opening the port.
  timeoutMs: (spec, healthTimeoutMs) => (spec.probe ? healthTimeoutMs + spec.probe.timeout : healthTimeoutMs),
  node: async (spec) => {
    const tty = await resolveTty(spec);
    return tty.ok ? { node: tty.tty } : { missing: tty.verdict.reason };
  },
  env: (_spec, node) => node ?? undefined,
  placeholder: 'tty',
  placeholdersIn: undefined,
  endpoints: () => [],
  usb: (spec) =>
    spec.usb !== undefined
      ? {
          as: 'console',
          identity: { vid: spec.usb.vid, pid: spec.usb.pid, serial: spec.usb.serial },
          interface: spec.usb.interface,
          serialKey: 'usb.serial',
        }
      : { as: 'console', path: spec.path ?? '' },
  humilityProbe: () => undefined,
  hardware: (raw) => {
    if (typeof raw['path'] === 'string')
      return { key: `serial ${raw['path']}`, what: `console ${raw['path']}`, at: [] };
    return isTable(raw['usb']) ? rawUsbHardware('serial', raw['usb'], ['usb']) : undefined;
  },
  outlet: undefined,
  // Its adapter, when the console is named by the adapter's identity (a multi-port adapter is reset or
  // rebound whole: the USB device is the unit). A console by path: which adapter it is, udev alone knows.
  recover: (spec, step, ctx) =>
    spec.usb !== undefined
      ? recoverUsbDevice({ vid: spec.usb.vid, pid: spec.usb.pid, serial: spec.usb.serial }, step, ctx)
      : nothingToRecover(),
};
