// Recovery step "usb-reset" (DESIGN §9): a USB port reset of one device
// through libusb (the `usb` package, v2), as `usbreset` does: the hub
// re-signals the device, which must answer its descriptors again. A probe
// whose firmware stopped answering on its endpoints often comes back from it.
// The device is found by identity in the attempt's enumeration, opened only
// for the reset, and closed.
import { getDeviceList, usb, type Device } from 'usb';
import { formatUsbId } from '../config/usb-identity.js';
import { coerceError } from '../errors.js';
import type { RecoveryAttempt, RecoveryContext } from './kinds/device-kind.js';
import { abortedAttempt, unlessAborted } from './abort-verdict.js';
import { findUsbDevice, type UsbIdentity } from './usb-check.js';

/** Resets the device; never throws, and ends (as a failure) when the signal aborts. */
export async function resetUsbDevice(want: UsbIdentity, ctx: RecoveryContext): Promise<RecoveryAttempt> {
  const id = `${formatUsbId(want.vid, want.pid)} ${want.serial}`;
  try {
    // Enumeration does not watch the signal (libusb can hang on a wedged hub): stop waiting on abort.
    const bus = await unlessAborted(ctx.usb(), ctx.signal);
    if (bus === null) return abortedAttempt(ctx.signal, `reset of ${id}`);
    const found = findUsbDevice(bus, want);
    if (found === undefined) return { ok: false, detail: `${id} is not on the bus: nothing to reset` };
    const where = `${id} at ${found.sysfsName}`;
    const device = getDeviceList().find(
      (d) => d.busNumber === found.busNumber && d.deviceAddress === found.deviceAddress,
    );
    if (device === undefined) return { ok: false, detail: `${where} left the bus before its reset` };
    // open(false): no configuration is chosen; the reset is all that is wanted of the device.
    device.open(false);
    const outcome = await unlessAborted(reset(device), ctx.signal);
    if (outcome === null) return abortedAttempt(ctx.signal, `reset of ${where}`);
    if (outcome === true) return { ok: true, detail: `reset ${where}` };
    // libusb's word for a device that came back from its reset as a new device (its descriptors
    // changed, or its state could not be restored): the reset was done; the re-check says the rest.
    if (outcome.errno === usb.LIBUSB_ERROR_NOT_FOUND) return { ok: true, detail: `reset ${where}; it enumerated anew` };
    return { ok: false, detail: `reset of ${where} failed: ${outcome.message}` };
  } catch (error) {
    // open() throws when the node cannot be opened (permissions; the device gone meanwhile).
    return { ok: false, detail: `reset of ${id} failed: ${coerceError(error).message}` };
  }
}

/**
 * The reset, closing the device once it is over: also after the signal gave
 * up on it, since closing a handle a reset is still using is not safe.
 */
function reset(device: Device): Promise<true | { errno: number | undefined; message: string }> {
  return new Promise((resolve) => {
    device.reset((error) => {
      try {
        device.close();
      } catch {
        // A device that re-enumerated or left has nothing to release.
      }
      resolve(error ? { errno: error.errno, message: error.message } : true);
    });
  });
}
