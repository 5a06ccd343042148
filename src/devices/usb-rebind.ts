// Recovery step "usb-rebind" (DESIGN §9): what a technician does by
// re-seating a probe, done in sysfs. The device is unbound from its
// device-level driver and bound again, so the kernel chooses its
// configuration afresh and every interface driver (cdc_acm, ftdi_sio) probes
// again: a device left enumerated but without its drivers (a driver that gave
// up on it, a configuration lost) comes back. A device that is not on the bus
// cannot be rebound; nothing here brings back what is unplugged.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatUsbId } from '../config/usb-identity.js';
import { coerceError } from '../errors.js';
import type { RecoveryAttempt, RecoveryContext } from './kinds/device-kind.js';
import { abortedAttempt, unlessAborted } from './abort-verdict.js';
import { findUsbDevice, type UsbIdentity } from './usb-check.js';
import { findUsbSysfsDevice, HOST_SYSFS, type UsbSysfsDevice } from './usb-sysfs-device.js';

/**
 * The generic driver every non-hub USB device is bound to. A device bound to
 * no driver at all is bound to this one; one bound to another device-level
 * driver (usbip-host) goes back to that one, which has it for a reason.
 */
const GENERIC_DRIVER = 'usb';

/** Unbinds the device and binds it again; never throws, and ends (as a failure) when the signal aborts. */
export async function rebindUsbDevice(
  want: UsbIdentity,
  ctx: RecoveryContext,
  sysfs = HOST_SYSFS,
): Promise<RecoveryAttempt> {
  const id = `${formatUsbId(want.vid, want.pid)} ${want.serial}`;
  try {
    const device = await locate(want, ctx, sysfs);
    if (device === null) return abortedAttempt(ctx.signal, `rebind of ${id}`);
    if (device === undefined) return { ok: false, detail: `${id} is not on the bus: nothing to rebind` };
    const driver = device.driver ?? GENERIC_DRIVER;
    const drivers = join(sysfs, 'bus/usb/drivers', driver);
    // Writing the name to unbind/bind runs the driver's disconnect/probe in the kernel, under the device's
    // lock: a device wedged in a reset can block it. The write is waited for no longer than the signal.
    if (device.driver !== null) {
      const unbound = await write(join(drivers, 'unbind'), device.name, ctx.signal);
      if (unbound === null) return abortedAttempt(ctx.signal, `unbinding ${id} at ${device.name}`);
      if (unbound !== true)
        return { ok: false, detail: `could not unbind ${id} at ${device.name} from ${driver}: ${unbound}` };
    }
    const bound = await write(join(drivers, 'bind'), device.name, ctx.signal);
    if (bound === null) return abortedAttempt(ctx.signal, `binding ${id} at ${device.name} again`);
    if (bound !== true)
      return {
        ok: false,
        detail: `unbound ${id} at ${device.name}, but could not bind it to ${driver} again: ${bound}`,
      };
    const was = device.driver === null ? ` (it had no driver; bound to ${driver})` : '';
    return { ok: true, detail: `rebound ${id} at ${device.name}${was}` };
  } catch (error) {
    return { ok: false, detail: `rebind of ${id} failed: ${coerceError(error).message}` };
  }
}

/**
 * The device's sysfs entry: by the bus number and address libusb found it at
 * (the identity was matched there, serial and all), else by its identity in
 * sysfs itself. Null: the signal ended the enumeration.
 */
async function locate(
  want: UsbIdentity,
  ctx: RecoveryContext,
  sysfs: string,
): Promise<UsbSysfsDevice | undefined | null> {
  // Enumeration does not watch the signal (libusb can hang on a wedged hub): stop waiting on abort.
  const bus = await unlessAborted(ctx.usb(), ctx.signal);
  if (bus === null) return null;
  const found = findUsbDevice(bus, want);
  return (
    (found && findUsbSysfsDevice({ busNumber: found.busNumber, deviceAddress: found.deviceAddress }, sysfs)) ??
    findUsbSysfsDevice(want, sysfs)
  );
}

/** True once written; the error's text when the kernel refused; null when the signal ended the wait first. */
async function write(path: string, text: string, signal: AbortSignal): Promise<true | string | null> {
  const done = writeFile(path, text).then(
    () => true as const,
    (error: unknown) => coerceError(error).message,
  );
  return unlessAborted(done, signal);
}
