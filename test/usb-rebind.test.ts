// The "usb-rebind" recovery step (src/devices/usb-rebind.ts) and the sysfs
// lookup under it (usb-sysfs-device.ts) on a fake sysfs tree
// (helpers/fake-sysfs.ts): which name is written to which driver's unbind and
// bind files, a device without a driver, a device not on the bus, a kernel
// write that never returns. The real kernel doing it is usb-qemu-recovery.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RecoveryContext } from '../src/devices/kinds/device-kind.js';
import type { UsbDeviceInfo } from '../src/devices/usb-bus.js';
import { rebindUsbDevice } from '../src/devices/usb-rebind.js';
import { findUsbSysfsDevice } from '../src/devices/usb-sysfs-device.js';
import { lifo } from './helpers/cleanup.js';
import { FakeSysfs } from './helpers/fake-sysfs.js';
import { tempDir } from './helpers/temp-dir.js';

const PROBE = { vid: 0x1fc9, pid: 0x0143, serial: 'MKPNRQ1ZY3DVX' };
const OTHER = { vid: 0x1fc9, pid: 0x0143, serial: 'GHZ4GAXHQJ1W3' };

/** The lab: two probes of one model, on bus 3; the wanted one bound to "usb" unless told otherwise. */
function lab(dir: string, driver: string | null = 'usb'): FakeSysfs {
  return new FakeSysfs(dir)
    .add({ usbPath: '3-1', ...OTHER, devnum: 2, driver: 'usb', ttys: [{ name: 'ttyACM0', interface: 0 }] })
    .add({
      usbPath: '3-2.4',
      ...PROBE,
      devnum: 5,
      ...(driver === null ? {} : { driver }),
      ttys: [{ name: 'ttyACM1', interface: 0 }],
    });
}

/** libusb's enumeration as the agent gives it; its sysfsName is deliberately wrong: the lookup is sysfs's own. */
function bus(...devices: { serial: string; busNumber: number; deviceAddress: number }[]): UsbDeviceInfo[] {
  return devices.map((d) => ({
    vid: 0x1fc9,
    pid: 0x0143,
    ...d,
    node: `/dev/bus/usb/00${d.busNumber}/00${d.deviceAddress}`,
    sysfsName: 'not-this',
  }));
}

function ctx(devices: UsbDeviceInfo[], signal = AbortSignal.timeout(5_000)): RecoveryContext {
  return { signal, usb: () => Promise.resolve(devices) };
}

const read = (path: string): string => readFileSync(path, 'utf8').trim();

describe('the sysfs entry of a USB device', () => {
  it('is found by bus number and address, or by vid/pid/serial; interfaces and root hubs are not devices', (t) => {
    const sysfs = lab(tempDir(t)).roots.sysfs;
    const byAddress = findUsbSysfsDevice({ busNumber: 3, deviceAddress: 5 }, sysfs);
    assert.equal(byAddress?.name, '3-2.4');
    assert.equal(byAddress.driver, 'usb');
    assert.equal(findUsbSysfsDevice(PROBE, sysfs)?.name, '3-2.4');
    assert.equal(findUsbSysfsDevice(OTHER, sysfs)?.name, '3-1');
    // The root hub (usb1) is bus 1 address 1: never a lab device.
    assert.equal(findUsbSysfsDevice({ busNumber: 1, deviceAddress: 1 }, sysfs), undefined);
    assert.equal(findUsbSysfsDevice({ ...PROBE, serial: 'UNPLUGGED' }, sysfs), undefined);
    assert.equal(findUsbSysfsDevice({ busNumber: 3, deviceAddress: 9 }, sysfs), undefined);
  });

  it('says which driver is bound, or none', (t) => {
    const sysfs = lab(tempDir(t), null).roots.sysfs;
    assert.equal(findUsbSysfsDevice(PROBE, sysfs)?.driver, null);
  });

  it('is not found on a host without a USB bus', (t) => {
    assert.equal(findUsbSysfsDevice(PROBE, join(tempDir(t), 'sys')), undefined);
  });
});

describe('usb-rebind', () => {
  it('writes the device name to its driver unbind file, then to bind, and says what it did', async (t) => {
    const fake = lab(tempDir(t));
    const drivers = fake.driverDir('usb');
    const attempt = await rebindUsbDevice(
      PROBE,
      ctx(bus({ ...OTHER, busNumber: 3, deviceAddress: 2 }, { ...PROBE, busNumber: 3, deviceAddress: 5 })),
      fake.roots.sysfs,
    );
    assert.deepEqual(attempt, { ok: true, detail: 'rebound 1fc9:0143 MKPNRQ1ZY3DVX at 3-2.4' });
    assert.equal(read(join(drivers, 'unbind')), '3-2.4');
    assert.equal(read(join(drivers, 'bind')), '3-2.4');
  });

  it('goes back to the driver it had, when that is not the generic one', async (t) => {
    const fake = lab(tempDir(t), 'usbip-host');
    const attempt = await rebindUsbDevice(
      PROBE,
      ctx(bus({ ...PROBE, busNumber: 3, deviceAddress: 5 })),
      fake.roots.sysfs,
    );
    assert.equal(attempt.ok, true, attempt.detail);
    assert.equal(read(join(fake.driverDir('usbip-host'), 'bind')), '3-2.4');
    assert.equal(read(join(fake.driverDir('usb'), 'unbind')), '', 'the generic driver was not touched');
  });

  it('binds a device that has no driver to the generic one, without an unbind', async (t) => {
    const fake = lab(tempDir(t), null);
    const drivers = fake.driverDir('usb');
    const attempt = await rebindUsbDevice(
      PROBE,
      ctx(bus({ ...PROBE, busNumber: 3, deviceAddress: 5 })),
      fake.roots.sysfs,
    );
    assert.deepEqual(attempt, {
      ok: true,
      detail: 'rebound 1fc9:0143 MKPNRQ1ZY3DVX at 3-2.4 (it had no driver; bound to usb)',
    });
    assert.equal(read(join(drivers, 'unbind')), '');
    assert.equal(read(join(drivers, 'bind')), '3-2.4');
  });

  it("finds the device by identity in sysfs when libusb's enumeration lacks it", async (t) => {
    const fake = lab(tempDir(t));
    const attempt = await rebindUsbDevice(PROBE, ctx([]), fake.roots.sysfs);
    assert.equal(attempt.detail, 'rebound 1fc9:0143 MKPNRQ1ZY3DVX at 3-2.4');
  });

  it('fails, naming the device, when it is not on the bus', async (t) => {
    const fake = lab(tempDir(t));
    const gone = { ...PROBE, serial: 'UNPLUGGED' };
    const attempt = await rebindUsbDevice(
      gone,
      ctx(bus({ ...PROBE, busNumber: 3, deviceAddress: 5 })),
      fake.roots.sysfs,
    );
    assert.deepEqual(attempt, { ok: false, detail: '1fc9:0143 UNPLUGGED is not on the bus: nothing to rebind' });
    assert.equal(read(join(fake.driverDir('usb'), 'unbind')), '');
  });

  it('fails with what the kernel said when bind is refused, after the unbind', async (t) => {
    const fake = lab(tempDir(t));
    const drivers = fake.driverDir('usb');
    // A directory where the bind file should be: the write fails (EISDIR) as a refused bind would.
    rmSync(join(drivers, 'bind'));
    mkdirSync(join(drivers, 'bind'));
    const attempt = await rebindUsbDevice(PROBE, ctx([]), fake.roots.sysfs);
    assert.equal(attempt.ok, false);
    assert.match(
      attempt.detail,
      /^unbound 1fc9:0143 MKPNRQ1ZY3DVX at 3-2\.4, but could not bind it to usb again: .*EISDIR/,
    );
  });

  it('ends as timed out when the kernel write never returns, and as cut short when aborted first', async (t) => {
    const fake = lab(tempDir(t));
    // A FIFO with no reader: opening it for writing blocks, as an unbind under a wedged device's lock would.
    const unbind = join(fake.driverDir('usb'), 'unbind');
    rmSync(unbind);
    execFileSync('mkfifo', [unbind]);
    // The blocked write holds a thread of the pool: a reader lets it finish once the test is over.
    lifo(t).after(async () => {
      const reader = openSync(unbind, constants.O_RDONLY | constants.O_NONBLOCK);
      await new Promise((resolve) => setTimeout(resolve, 200));
      closeSync(reader);
    });
    const started = performance.now();
    const attempt = await rebindUsbDevice(PROBE, ctx([], AbortSignal.timeout(300)), fake.roots.sysfs);
    assert.deepEqual(attempt, { ok: false, detail: 'unbinding 1fc9:0143 MKPNRQ1ZY3DVX at 3-2.4 timed out' });
    assert.ok(performance.now() - started < 3_000, 'the signal ended the wait');

    const stopping = new AbortController();
    stopping.abort(new Error('the agent is stopping'));
    assert.deepEqual(await rebindUsbDevice(PROBE, ctx([], stopping.signal), fake.roots.sysfs), {
      ok: false,
      detail: 'rebind of 1fc9:0143 MKPNRQ1ZY3DVX was cut short',
    });
  });
});
