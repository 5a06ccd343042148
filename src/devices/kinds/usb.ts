// usb: a debug probe (or other USB device) matched by vid/pid/serial. Its
// check is presence on the bus, so active and passive are the same; a job is
// granted its /dev/bus/usb/BBB/DDD node.
import { formatUsbId } from '../../config/usb-identity.js';
import type { DeviceSpec } from '../../config/schema.js';
import { abortedVerdict, unlessAborted } from '../abort-verdict.js';
import { checkUsb, findUsbDevice } from '../usb-check.js';
import { recoverUsbDevice } from '../usb-recover.js';
import type { DeviceKind } from './device-kind.js';
import { rawUsbHardware } from './raw-usb-hardware.js';

type UsbSpec = Extract<DeviceSpec, { kind: 'usb' }>;

export const usbKind: DeviceKind<UsbSpec> = {
  describe: (spec) => `usb ${formatUsbId(spec.vid, spec.pid)} serial ${spec.serial}`,
  passive: true,
  check: async (spec, ctx) => {
    // Enumeration does not watch the signal (libusb can hang on a wedged hub): stop waiting on abort.
    const devices = await unlessAborted(ctx.usb(), ctx.signal);
    return devices === null ? abortedVerdict(ctx.signal, usbKind.describe(spec)) : checkUsb(spec, devices);
  },
  timeoutMs: (_spec, healthTimeoutMs) => healthTimeoutMs,
  node: async (spec, usb) => {
    const found = findUsbDevice(await usb(), spec);
    return found ? { node: found.node } : { missing: `${usbKind.describe(spec)} is not on the bus` };
  },
  env: (_spec, node) => node ?? undefined,
  placeholder: 'usb_node',
  placeholdersIn: undefined,
  endpoints: () => [],
  usb: (spec) => ({
    as: 'probe',
    identity: { vid: spec.vid, pid: spec.pid, serial: spec.serial },
    serialKey: 'serial',
  }),
  humilityProbe: (spec) =>
    spec.role === 'other'
      ? undefined
      : { role: spec.role, probe: `${formatUsbId(spec.vid, spec.pid)}:${spec.serial}`, archive: spec.archive },
  hardware: (raw) => rawUsbHardware('usb', raw, []),
  outlet: undefined,
  // A reset or rebind of the probe itself, found on the bus by its identity.
  recover: (spec, step, ctx) => recoverUsbDevice({ vid: spec.vid, pid: spec.pid, serial: spec.serial }, step, ctx),
};
