// Checks configured devices by name: asks the device's kind (kinds/) for its
// check and timeout, and fills command placeholders from the devices of the
// slot that uses it. One USB enumeration is shared by all checks of a sweep.
import type { LabModel } from '../config/lab-model.js';
import type { DeviceSpec } from '../config/schema.js';
import type { CheckMode, CheckResult } from './check-result.js';
import { checksIn, kindOf } from './kinds/registry.js';
import { placeholderResolver } from './placeholder-values.js';
import { runCheck } from './run-check.js';
import { listUsbDevices, type UsbDeviceInfo } from './usb-bus.js';

/** Enumerates the bus at most once per snapshot, and only when a check needs it. */
export class UsbSnapshot {
  private devices: Promise<UsbDeviceInfo[]> | undefined;
  constructor(private readonly list: () => Promise<UsbDeviceInfo[]>) {}
  get(): Promise<UsbDeviceInfo[]> {
    this.devices ??= this.list();
    return this.devices;
  }
}

export class DeviceChecker {
  private readonly listUsb: () => Promise<UsbDeviceInfo[]>;

  constructor(
    private readonly lab: LabModel,
    listUsb?: () => Promise<UsbDeviceInfo[]>,
  ) {
    // Only configured probes' descriptors may be read; nothing else on the bus is opened.
    const wanted = new Set(
      [...lab.devices.values()].flatMap((d) => {
        const on = kindOf(d.spec).usb(d.spec);
        return on?.as === 'probe' ? [`${on.identity.vid}:${on.identity.pid}`] : [];
      }),
    );
    this.listUsb = listUsb ?? (() => listUsbDevices((vid, pid) => wanted.has(`${vid}:${pid}`)));
  }

  newUsbSnapshot(): UsbSnapshot {
    return new UsbSnapshot(this.listUsb);
  }

  /** Active checks are skipped (null) in passive mode: a leased slot's devices are the job's. */
  async check(
    name: string,
    mode: CheckMode,
    signal: AbortSignal,
    usb: UsbSnapshot = this.newUsbSnapshot(),
  ): Promise<CheckResult | null> {
    const device = this.lab.devices.get(name);
    if (!device) throw new Error(`no device named ${name}`);
    const spec = device.spec;
    if (!checksIn(spec, mode)) return null;
    const timeoutMs = checkTimeoutMs(this.lab, spec);
    const enumerate = (): Promise<UsbDeviceInfo[]> => usb.get();
    return runCheck(timeoutMs, signal, (checkSignal) =>
      kindOf(spec).check(spec, {
        mode,
        signal: checkSignal,
        timeoutMs,
        usb: enumerate,
        placeholders: placeholderResolver(this.lab, name, enumerate),
      }),
    );
  }
}

/** How long a check of this device may take before it counts as timed out. */
export function checkTimeoutMs(lab: LabModel, spec: DeviceSpec): number {
  return kindOf(spec).timeoutMs(spec, lab.config.health.timeout);
}
