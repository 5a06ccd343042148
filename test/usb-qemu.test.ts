// labslot's real USB code paths on a real (emulated) USB bus: a QEMU guest
// that runs this project's sources from the host's root (DESIGN §6). libusb
// enumeration through the `usb` package, sysfs serials, /dev/bus/usb nodes,
// tty lookup by USB identity, and hotplug: an unplugged probe leaves rotation
// by a hotplug re-check, not the interval (how fast: bench/hotplug). One guest
// serves every test, phase by phase.
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scriptCleanup } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { startUsbLab, USB_LAB_PREREQUISITES, type UsbLab } from './helpers/qemu-usb-lab.js';
import type { UsbDeviceInfo } from '../src/devices/usb-bus.js';
import type { GuestPlan } from './helpers/usb-guest.js';

// CI runs from another clone: the guest sees the host's root, so the same absolute paths work there.
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const GUEST_SCRIPT = fileURLToPath(new URL('helpers/usb-guest.ts', import.meta.url));

const PLAN: GuestPlan = {
  serials: ['SP-0001', 'SP-0002'],
  missingSerial: 'SP-9999',
  // An MCU-Link SP probe.
  gadget: { vid: 0x1fc9, pid: 0x0143, serial: 'MKPNRQ1ZY3DVX' },
  hotplugSerial: 'SP-0001',
};
const HOTPLUG_ID = 'probe0';

interface Verdict {
  ok: boolean;
  reason: string;
  detail?: string;
  error?: string;
}

type ListedDevice = UsbDeviceInfo & { nodeIsCharDevice: boolean };

interface StaticReport {
  phase: 'static';
  error?: string;
  sysfs: Record<string, string>;
  devices?: ListedDevice[];
  listError?: string;
  present?: Verdict;
  missing?: Verdict;
  gadget?: Verdict;
  ttys: { sysfs: Record<string, string>; byId: Record<string, string> };
  found: Record<string, string | null>;
  serialCheck: Verdict;
}

describe('usb in a QEMU guest', () => {
  // One guest for the whole suite: QEMU is killed (by PID) when the suite ends.
  const cleanup = scriptCleanup();
  after(() => cleanup.runAll());
  let lab: Promise<UsbLab> | undefined;
  const guest = (): Promise<UsbLab> =>
    (lab ??= startUsbLab(cleanup, {
      serials: PLAN.serials.map((serial, i) => ({
        id: serial === PLAN.hotplugSerial ? HOTPLUG_ID : `adapter${i}`,
        serial,
        port: i + 1,
      })),
      gadgets: [{ name: 'mcu-link', ...PLAN.gadget, manufacturer: 'NXP', product: 'MCU-Link' }],
      program: { script: GUEST_SCRIPT, args: [JSON.stringify(PLAN)], cwd: PROJECT_ROOT, warmTsxCache: true },
      // Under the test runner's 120 s per file (scripts/run-tests.mjs), so no QEMU outlives its test process.
      timeoutMs: 110_000,
    }));

  async function phase<T>(name: string, timeoutMs: number): Promise<T> {
    const line = await (await guest()).waitForLine(new RegExp(`^\\{"phase":"${name}"`), timeoutMs);
    return JSON.parse(line) as T;
  }
  let staticReport: Promise<StaticReport> | undefined;
  async function report(t: TestContext): Promise<StaticReport> {
    if (!staticReport) {
      staticReport = phase<StaticReport>('static', 100_000);
      await staticReport.catch(() => undefined);
      const { timings, startedAt } = await guest();
      t.diagnostic(
        `guest, from QEMU's start: ${ms(timings.stage2Ms)} to the host root, ${ms(timings.programMs)} to the test program (udev settled), ` +
          `${ms(performance.now() - startedAt)} to its first report (node loading the project's modules under TCG)`,
      );
    }
    const r = await staticReport;
    assert.equal(r.error, undefined, r.error);
    return r;
  }

  it('listUsbDevices lists both usb-serial adapters with sysfs serials and /dev/bus/usb nodes; checkUsb finds one and explains a missing one', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const r = await report(t);
    assert.equal(r.listError, undefined, `listUsbDevices threw: ${r.listError ?? ''}`);
    const adapters = (r.devices ?? []).filter((d) => d.vid === 0x0403 && d.pid === 0x6001);
    assert.deepEqual(adapters.map((d) => d.serial).sort(), PLAN.serials);
    for (const d of adapters) {
      const bbb = String(d.busNumber).padStart(3, '0');
      const ddd = String(d.deviceAddress).padStart(3, '0');
      assert.equal(d.node, `/dev/bus/usb/${bbb}/${ddd}`);
      assert.ok(d.nodeIsCharDevice, `${d.node} is not a character device in the guest`);
      assert.equal(d.sysfsName, r.sysfs[d.serial ?? ''], `sysfs name of ${d.serial ?? '?'}`);
    }

    const first = adapters.find((d) => d.serial === 'SP-0001');
    assert.ok(r.present && r.missing, 'no checkUsb results');
    assert.equal(r.present.ok, true, r.present.error ?? r.present.reason);
    assert.equal(r.present.reason, 'usb 0403:6001 serial SP-0001 present');
    assert.equal(r.present.detail, first?.node);

    assert.equal(r.missing.ok, false, r.missing.error);
    assert.match(r.missing.reason, /^usb 0403:6001 serial SP-9999 not present/);
    // What is there instead: the serials of the same model.
    const told = `${r.missing.reason} ${r.missing.detail ?? ''}`;
    assert.match(told, /SP-0001/);
    assert.match(told, /SP-0002/);
  });

  it('checkUsb finds a configfs gadget with any vid:pid and serial (1fc9:0143, like an MCU-Link)', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const r = await report(t);
    assert.equal(r.listError, undefined, `listUsbDevices threw: ${r.listError ?? ''}`);
    const gadget = (r.devices ?? []).find((d) => d.vid === 0x1fc9 && d.pid === 0x0143);
    assert.equal(gadget?.serial, PLAN.gadget.serial);
    assert.ok(r.gadget, 'no checkUsb result for the gadget');
    assert.equal(r.gadget.ok, true, r.gadget.error ?? r.gadget.reason);
    assert.equal(r.gadget.reason, `usb 1fc9:0143 serial ${PLAN.gadget.serial} present`);
  });

  it('findTtyByUsb tells the adapters apart by serial, and checkSerial passes its tty', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const r = await report(t);
    const want = r.ttys.sysfs['SP-0002'];
    assert.match(want ?? '', /^\/dev\/ttyUSB\d+$/, `sysfs has no tty for SP-0002: ${JSON.stringify(r.ttys)}`);
    assert.equal(r.found['SP-0002'], want);
    assert.equal(r.found['SP-0001'], r.ttys.sysfs['SP-0001']);
    assert.notEqual(r.found['SP-0001'], r.found['SP-0002']);
    // udev agrees: /dev/serial/by-id/usb-QEMU_QEMU_USB_SERIAL_SP-0002-if00-port0 -> that tty.
    assert.equal(r.ttys.byId['SP-0002'], want, `by-id links: ${JSON.stringify(r.ttys.byId)}`);
    assert.equal(r.serialCheck.ok, true, r.serialCheck.error ?? r.serialCheck.reason);
    assert.equal(r.serialCheck.reason, `serial ${want ?? ''} present`);
  });

  it('hotplug: an unplugged adapter is unhealthy, and healthy again after the replug, each by a hotplug re-check (interval 60 s)', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const lab = await guest();
    const ready = await phase<{ other: string | null }>('ready', 60_000);
    assert.equal(ready.other, 'healthy');

    const unplugged = performance.now();
    await lab.unplug(HOTPLUG_ID);
    const detached = await phase<{
      latencyMs: number;
      libusbEventMs: number | null;
      reason: string;
      trigger: string;
      other: string | null;
    }>('detached', 30_000);
    const hostMs = performance.now() - unplugged;
    t.diagnostic(
      `detach -> unhealthy: ${detached.latencyMs} ms in the guest (device gone from sysfs -> HealthStore 'unhealthy'); ` +
        `libusb detach event at +${detached.libusbEventMs ?? '?'} ms; ${Math.round(hostMs)} ms from QMP device_del to the host reading the guest's report`,
    );
    t.diagnostic(`reason: ${detached.reason}`);
    assert.equal(detached.trigger, 'hotplug');
    assert.match(detached.reason, /usb 0403:6001 serial SP-0001 not present/);
    assert.equal(detached.other, 'healthy', 'the adapter left plugged in stays healthy');
    // How fast is a figure for bench/hotplug, not a test: under TCG it depends on the machine's load.

    const replugged = performance.now();
    await lab.replug(HOTPLUG_ID);
    const back = await phase<{ latencyMs: number; reason: string; trigger: string }>('reattached', 30_000);
    t.diagnostic(
      `replug -> healthy: ${back.latencyMs} ms after the device reappeared in sysfs; ${Math.round(performance.now() - replugged)} ms from QMP device_add to the host reading the guest's report`,
    );
    assert.equal(back.reason, 'usb 0403:6001 serial SP-0001 present');
    assert.equal(back.trigger, 'hotplug', 'the replug, not the 60 s interval, brought it back');

    const result = await lab.finished;
    assert.equal(result.exitCode, 0, `guest program failed:\n${result.stdout}\n${result.stderr}`);
    assert.doesNotMatch(result.stdout, /"phase":"error"/);
  });
});

function ms(value: number | undefined): string {
  return value === undefined ? '?' : `${(value / 1000).toFixed(1)} s`;
}
