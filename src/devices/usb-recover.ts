// The recovery steps a USB device's kind does itself (DESIGN §9), for every
// kind that is USB hardware named by identity: a probe, a console adapter.
import type { KindRecoveryStep, RecoveryAttempt, RecoveryContext } from './kinds/device-kind.js';
import type { UsbIdentity } from './usb-check.js';
import { rebindUsbDevice } from './usb-rebind.js';
import { resetUsbDevice } from './usb-reset.js';

/** A USB reset or a rebind of the device with this identity; never throws. */
export function recoverUsbDevice(
  want: UsbIdentity,
  step: KindRecoveryStep,
  ctx: RecoveryContext,
): Promise<RecoveryAttempt> {
  return step === 'usb-reset' ? resetUsbDevice(want, ctx) : rebindUsbDevice(want, ctx);
}
