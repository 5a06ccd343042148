// Checks configured devices by name: picks the check of the device's kind,
// its timeout, and fills command placeholders from the devices of the slot
// that uses it. One USB enumeration is shared by all checks of a sweep.
import type { LabModel } from '../config/lab-model.js';
import type { DeviceSpec } from '../config/schema.js';
import { withArticle } from '../words.js';
import type { CheckMode, CheckResult, Verdict } from './check-result.js';
import { checkCommand, type PlaceholderResolver } from './command-check.js';
import { checkIpv6, scopedAddress } from './ipv6-check.js';
import { checkPower } from './power-check.js';
import { runCheck } from './run-check.js';
import { checkSerial, resolveTty } from './serial-check.js';
import { listUsbDevices, type UsbDeviceInfo } from './usb-bus.js';
import { checkUsb, findUsbDevice } from './usb-check.js';

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
    const wanted = new Set([...lab.devices.values()].flatMap((d) => (d.spec.kind === 'usb' ? [`${d.spec.vid}:${d.spec.pid}`] : [])));
    this.listUsb = listUsb ?? (() => listUsbDevices((vid, pid) => wanted.has(`${vid}:${pid}`)));
  }

  newUsbSnapshot(): UsbSnapshot {
    return new UsbSnapshot(this.listUsb);
  }

  /** Active checks are skipped (null) in passive mode: a leased slot's devices are the job's. */
  async check(name: string, mode: CheckMode, signal: AbortSignal, usb: UsbSnapshot = this.newUsbSnapshot()): Promise<CheckResult | null> {
    const device = this.lab.devices.get(name);
    if (!device) throw new Error(`no device named ${name}`);
    const spec = device.spec;
    if (spec.kind === 'command' && mode === 'passive') return null;
    const timeoutMs = checkTimeoutMs(this.lab, spec);
    return runCheck(timeoutMs, signal, (checkSignal) => this.verdict(name, spec, { mode, signal: checkSignal, timeoutMs }, usb));
  }

  private async verdict(name: string, spec: DeviceSpec, ctx: { mode: CheckMode; signal: AbortSignal; timeoutMs: number }, usb: UsbSnapshot): Promise<Verdict> {
    switch (spec.kind) {
      case 'usb':
        return checkUsb(spec, await usb.get());
      case 'serial':
        return checkSerial(spec, ctx);
      case 'power':
        return checkPower(spec, ctx);
      case 'ipv6':
        return checkIpv6(spec, ctx);
      case 'command':
        return checkCommand(spec, ctx, this.placeholderResolver(name, usb));
    }
  }

  /**
   * `{tty}`, `{usb_node}`, `{address}` take the first such device of the slot
   * using this check (an sp-probe first for `{usb_node}`); `{tty:NAME}` names one.
   */
  private placeholderResolver(commandDevice: string, usb: UsbSnapshot): PlaceholderResolver {
    const slotName = this.lab.devices.get(commandDevice)?.usedBy[0];
    const slot = slotName !== undefined ? this.lab.slots.get(slotName) : undefined;
    return async (kind, named) => {
      const wantedKind = kind === 'tty' ? 'serial' : kind === 'usb_node' ? 'usb' : 'ipv6';
      const candidates = named !== undefined ? [named] : (slot?.devices ?? []).filter((d) => this.lab.devices.get(d)?.spec.kind === wantedKind);
      if (kind === 'usb_node') candidates.sort((a, b) => Number(this.roleOf(b) === 'sp-probe') - Number(this.roleOf(a) === 'sp-probe'));
      const deviceName = candidates[0];
      const spec = deviceName !== undefined ? this.lab.devices.get(deviceName)?.spec : undefined;
      if (!spec || spec.kind !== wantedKind) return { missing: named !== undefined ? `"${named}" is not ${withArticle(wantedKind)} device` : `slot ${slotName ?? '(none)'} has no ${wantedKind} device` };
      if (spec.kind === 'ipv6') return { value: scopedAddress(spec) };
      if (spec.kind === 'serial') {
        const tty = await resolveTty(spec);
        return tty.ok ? { value: tty.tty } : { missing: tty.verdict.reason };
      }
      const found = findUsbDevice(await usb.get(), spec);
      return found ? { value: found.node } : { missing: `${deviceName ?? ''} is not on the bus` };
    };
  }

  private roleOf(device: string): string | undefined {
    const spec = this.lab.devices.get(device)?.spec;
    return spec?.kind === 'usb' ? spec.role : undefined;
  }
}

/** How long a check of this device may take before it counts as timed out. */
export function checkTimeoutMs(lab: LabModel, spec: DeviceSpec): number {
  const base = spec.kind === 'command' ? (spec.timeout ?? lab.config.health.timeout) : lab.config.health.timeout;
  // An active console probe waits for its own answer on top of opening the port.
  return spec.kind === 'serial' && spec.probe ? base + spec.probe.timeout : base;
}
