// Runs INSIDE the QEMU USB lab guest (test/usb-qemu.test.ts), with the host's
// node and tsx: labslot's real USB code on a real (emulated) bus. Prints one
// JSON line per phase on stdout; the host test reads them as they come.
//   static:     listUsbDevices, checkUsb, findTtyByUsb, checkSerial
//   ready:      a HealthMonitor (real checker, libusb hotplug) sees the probe healthy;
//               the host then unplugs it over QMP
//   detached:   ms from the kernel dropping the device (its sysfs dir gone) to 'unhealthy' in the HealthStore
//   reattached: ms from the device's return to 'healthy' after the host's replug
import { existsSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { usb } from 'usb';
import { loadLabConfig } from '../../src/devices/load-lab-config.js';
import { openDatabase } from '../../src/db/open-database.js';
import { DeviceChecker } from '../../src/devices/device-checker.js';
import { checkSerial } from '../../src/devices/serial-check.js';
import { findTtyByUsb } from '../../src/devices/serial-tty.js';
import { listUsbDevices, type UsbDeviceInfo } from '../../src/devices/usb-bus.js';
import { checkUsb } from '../../src/devices/usb-check.js';
import { checkModeFor } from '../../src/health/check-mode.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { HealthStore } from '../../src/health/health-store.js';
import { usbHotplug } from '../../src/health/usb-hotplug.js';
import { createLogger } from '../../src/log.js';
import { ensureSlotRows } from '../../src/slots/slot-states.js';
import { eventually } from './eventually.js';
import { emit, messageOf, readText, SYSFS_USB } from './guest-util.js';

export interface GuestPlan {
  /** The usb-serial adapters (0403:6001) on the bus. */
  serials: string[];
  /** One that is not. */
  missingSerial: string;
  gadget: { vid: number; pid: number; serial: string };
  /** The adapter the host unplugs and replugs. */
  hotplugSerial: string;
}

const FTDI = { vid: 0x0403, pid: 0x6001 };

const errorText = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/** Ground truth straight from sysfs, independent of the code under test: serial → kernel name (e.g. "1-2"). */
function sysfsSerials(): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of readdirSync(SYSFS_USB)) {
    const serial = readText(join(SYSFS_USB, name, 'serial'));
    if (serial !== undefined && readText(join(SYSFS_USB, name, 'idVendor')) !== undefined) found.set(serial, name);
  }
  return found;
}

/** ttyUSBn/ttyACMn → the serial of the USB device above it, by walking sysfs up from the tty. */
function ttySerials(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tty of readdirSync('/sys/class/tty').filter((t) => /^tty(USB|ACM)\d+$/.test(t))) {
    for (let dir = realpathSync(`/sys/class/tty/${tty}/device`); dir !== '/sys'; dir = dirname(dir)) {
      const serial = readText(join(dir, 'serial'));
      if (serial !== undefined && existsSync(join(dir, 'idVendor'))) {
        out[serial] = `/dev/${tty}`;
        break;
      }
    }
  }
  return out;
}

/** serial → tty through udev's /dev/serial/by-id links (absent without udev). */
function byIdSerials(): Record<string, string> {
  const out: Record<string, string> = {};
  const dir = '/dev/serial/by-id';
  if (!existsSync(dir)) return out;
  for (const link of readdirSync(dir)) {
    const serial = /_([^_]+)-if\d+(?:-port\d+)?$/.exec(link)?.[1];
    if (serial !== undefined) out[serial] = `/dev/${basename(readlinkSync(join(dir, link)))}`;
  }
  return out;
}

async function staticPhase(plan: GuestPlan): Promise<void> {
  const report: Record<string, unknown> = { phase: 'static', sysfs: Object.fromEntries(sysfsSerials()) };
  let devices: UsbDeviceInfo[] | undefined;
  try {
    devices = await listUsbDevices();
    report['devices'] = devices.map((d) => {
      const info = statSync(d.node, { throwIfNoEntry: false });
      return { ...d, nodeIsCharDevice: info?.isCharacterDevice() ?? false };
    });
  } catch (error) {
    report['listError'] = errorText(error);
  }
  if (devices) {
    const list = devices;
    const check = async (serial: string, id = FTDI): Promise<unknown> => {
      try {
        return await checkUsb({ ...id, serial }, list);
      } catch (error) {
        return { error: errorText(error) };
      }
    };
    report['present'] = await check(plan.serials[0] ?? '');
    report['missing'] = await check(plan.missingSerial);
    report['gadget'] = await check(plan.gadget.serial, plan.gadget);
  }
  report['ttys'] = { sysfs: ttySerials(), byId: byIdSerials() };
  report['found'] = Object.fromEntries(
    plan.serials.map((serial) => [serial, findTtyByUsb({ ...FTDI, serial }) ?? null]),
  );
  const last = plan.serials[plan.serials.length - 1] ?? '';
  try {
    report['serialCheck'] = await checkSerial(
      { usb: { ...FTDI, serial: last }, baud: 115_200 },
      { mode: 'passive', signal: AbortSignal.timeout(5_000), timeoutMs: 5_000 },
    );
  } catch (error) {
    report['serialCheck'] = { error: errorText(error) };
  }
  emit(report);
}

async function hotplugPhase(plan: GuestPlan): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'labslot-state-')); // a tmpfs in the guest
  const file = join(dir, 'slots.toml');
  const other = plan.serials.find((s) => s !== plan.hotplugSerial);
  const usbDevice = (serial: string): string => `kind = "usb"\nvid = 0x0403\npid = 0x6001\nserial = "${serial}"\n`;
  writeFileSync(
    file,
    // A 60 s interval: only a hotplug re-check can explain a change within seconds.
    `[health]\ninterval = "60s"\nsuccess_threshold = 1\n` +
      `[devices.probe]\n${usbDevice(plan.hotplugSerial)}` +
      (other !== undefined ? `[devices.other]\n${usbDevice(other)}` : '') +
      `[slots.a]\ntarget = "t"\ndevices = ["probe"]\n` +
      (other !== undefined ? `[slots.b]\ntarget = "t"\ndevices = ["other"]\n` : ''),
  );
  const lab = loadLabConfig(file, { stateDir: join(dir, 'state') });
  const db = openDatabase({ stateDir: lab.stateDir });
  ensureSlotRows(db, [...lab.slots.keys()]);
  const store = new HealthStore(db, lab);
  const log = createLogger(2);
  const monitor = new HealthMonitor({
    lab,
    store,
    checker: new DeviceChecker(lab),
    log,
    modeOf: (d) => checkModeFor(lab, db, d),
    hotplug: usbHotplug,
  });
  const state = (device: string): string | undefined => store.states([device]).get(device);
  const lastReason = (device: string): string | undefined => store.history(device, 1)[0]?.reason;
  monitor.start();
  try {
    const sysfsName = sysfsSerials().get(plan.hotplugSerial);
    if (sysfsName === undefined) throw new Error(`${plan.hotplugSerial} is not in sysfs`);
    const devices = [...lab.devices.keys()];
    await eventually(() => devices.every((d) => state(d) === 'healthy'), {
      timeoutMs: 20_000,
      message: 'every device healthy',
    }).catch((error: unknown) => {
      const states = devices.map((d) => `${d}: ${state(d) ?? 'none'} (${lastReason(d) ?? 'not checked'})`);
      throw new Error(`${messageOf(error)}; ${states.join('; ')}`);
    });
    let libusbDetachAt: number | undefined;
    usb.once('detach', () => (libusbDetachAt = performance.now()));
    const sysfsDir = join(SYSFS_USB, sysfsName);
    emit({ phase: 'ready', sysfsName, other: other !== undefined ? state('other') : null });

    // The host unplugs now. Poll tightly: the kernel's removal is the moment of the unplug.
    const goneAt = await eventually(() => (existsSync(sysfsDir) ? false : performance.now()), {
      timeoutMs: 60_000,
      intervalMs: 2,
      message: 'the device to leave sysfs',
    });
    const unhealthyAt = await eventually(() => (state('probe') === 'unhealthy' ? performance.now() : false), {
      timeoutMs: 10_000,
      intervalMs: 5,
      message: 'probe unhealthy',
    }).catch((error: unknown) => {
      throw new Error(
        `${messageOf(error)}; state ${state('probe') ?? 'none'}, last result: ${lastReason('probe') ?? 'none'}`,
      );
    });
    emit({
      phase: 'detached',
      latencyMs: Math.round(unhealthyAt - goneAt),
      libusbEventMs: libusbDetachAt === undefined ? null : Math.round(libusbDetachAt - goneAt),
      reason: lastReason('probe'),
      trigger: store.history('probe', 1)[0]?.trigger,
      other: other !== undefined ? state('other') : null,
    });

    const backAt = await eventually(() => (sysfsSerials().has(plan.hotplugSerial) ? performance.now() : false), {
      timeoutMs: 30_000,
      intervalMs: 5,
      message: 'the device to return to sysfs',
    });
    const healthyAt = await eventually(() => (state('probe') === 'healthy' ? performance.now() : false), {
      timeoutMs: 15_000,
      intervalMs: 5,
      message: 'probe healthy again',
    }).catch((error: unknown) => {
      throw new Error(
        `${messageOf(error)}; state ${state('probe') ?? 'none'}, last result: ${lastReason('probe') ?? 'none'}`,
      );
    });
    emit({
      phase: 'reattached',
      latencyMs: Math.round(healthyAt - backAt),
      reason: lastReason('probe'),
      trigger: store.history('probe', 1)[0]?.trigger,
    });
  } finally {
    await monitor.stop();
    db.$client.close();
  }
}

async function main(): Promise<void> {
  // The host loads this file only to fill tsx's cache for the guest (WARM_ONLY_ENV in qemu-usb-lab.ts).
  if (process.env['LABSLOT_USB_LAB_WARM_ONLY'] === '1') return;
  const plan = JSON.parse(process.argv[2] ?? '') as GuestPlan;
  // Enumeration of the emulated devices may still be going on when udev has settled.
  await eventually(
    () => {
      const present = sysfsSerials();
      return [...plan.serials, plan.gadget.serial].every((s) => present.has(s));
    },
    { timeoutMs: 20_000, message: 'the devices in sysfs' },
  ).catch((error: unknown) =>
    emit({
      phase: 'error',
      error: `${messageOf(error)}; sysfs has ${JSON.stringify(Object.fromEntries(sysfsSerials()))}`,
    }),
  );
  try {
    await staticPhase(plan);
  } catch (error) {
    emit({ phase: 'static', error: errorText(error) });
  }
  try {
    await hotplugPhase(plan);
  } catch (error) {
    emit({ phase: 'error', error: errorText(error) });
  }
  emit({ phase: 'done' });
}

main().then(
  () => process.exit(0), // libusb's event thread would keep the process alive
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
