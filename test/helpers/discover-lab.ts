// The fake lab host of discover.test.ts: a sysfs tree (fake-sysfs.ts) with a
// hub, probes of several models, adapters (one multi-port, one without a
// serial), a device of no known model with a tty, a keyboard, and a config
// that names some of them in each way a USB device can be named, plus two
// that are not plugged in.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { FakeSysfs } from './fake-sysfs.js';
import { tempDir } from './temp-dir.js';

export const FTDI_BY_ID = 'usb-FTDI_FT232R_USB_UART_A10KZP4J-if00-port0';
export const CH340_BY_PATH = 'pci-0000:00:14.0-usb-0:5:1.0-port0';
export const LONG_SERIAL = '0669FF555187534867153938-AND-A-VERY-LONG-TAIL-OF-MORE-CHARACTERS';
export const ODD_SERIAL = 'a"b\\c\x7f d';

/** A lab host's bus: a hub, probes of several models, adapters, one device of no known model, a keyboard. */
export function fakeLab(t: TestContext): FakeSysfs {
  const fake = new FakeSysfs(tempDir(t));
  fake.addNode('ttyS0');
  return fake
    .add({ usbPath: '1-1', vid: 0x05e3, pid: 0x0608, devnum: 2, deviceClass: 9, product: 'USB2.0 Hub' })
    .add({
      ...{ usbPath: '1-1.1', vid: 0x1fc9, pid: 0x0143, devnum: 3, serial: 'MKPNRQ1ZY3DVX' },
      ...{ manufacturer: 'NXP', product: 'MCU-Link', ttys: [{ name: 'ttyACM0', interface: 2 }] },
    })
    .add({
      ...{ usbPath: '1-1.2', vid: 0x1fc9, pid: 0x0143, devnum: 4, serial: 'GHZ4GAXHQJ1W3' },
      ...{ manufacturer: 'NXP', product: 'MCU-Link', ttys: [{ name: 'ttyACM1', interface: 2 }] },
    })
    .add({
      ...{ usbPath: '1-2', vid: 0x0403, pid: 0x6001, devnum: 5, serial: 'A10KZP4J', manufacturer: 'FTDI' },
      ...{ product: 'FT232R USB UART', ttys: [{ name: 'ttyUSB0', interface: 0, byId: FTDI_BY_ID }] },
    })
    .add({
      ...{ usbPath: '1-3', vid: 0x0403, pid: 0x6010, devnum: 6, serial: 'FT2X-01' },
      ttys: [
        { name: 'ttyUSB1', interface: 0 },
        { name: 'ttyUSB2', interface: 1 },
      ],
    })
    .add({
      usbPath: '1-4',
      vid: 0x10c4,
      pid: 0xea60,
      devnum: 7,
      serial: '0001',
      ttys: [{ name: 'ttyUSB3', interface: 0 }],
    })
    .add({
      ...{ usbPath: '1-5', vid: 0x1a86, pid: 0x7523, devnum: 8 },
      ttys: [{ name: 'ttyUSB4', interface: 0, byPath: CH340_BY_PATH }],
    })
    .add({ usbPath: '1-6', vid: 0x1366, pid: 0x1051, devnum: 9, serial: '000123456789', manufacturer: 'SEGGER' })
    .add({ usbPath: '1-7', vid: 0x0483, pid: 0x374e, devnum: 10, serial: LONG_SERIAL })
    .add({
      ...{ usbPath: '1-8', vid: 0x2e8a, pid: 0x000c, devnum: 11, serial: 'E6614103E7' },
      product: 'Debugprobe on Pico (CMSIS-DAP)',
    })
    .add({ usbPath: '1-9', vid: 0x0627, pid: 0x0001, devnum: 12, serial: '42', product: 'QEMU USB Keyboard' })
    .add({
      usbPath: '1-10',
      vid: 0x2fe3,
      pid: 0x0100,
      devnum: 13,
      serial: 'ZEPHYR',
      ttys: [{ name: 'ttyACM2', interface: 0 }],
    })
    .add({ usbPath: '2-1', vid: 0x0483, pid: 0x3748, devnum: 2, serial: ODD_SERIAL })
    .add({
      usbPath: '2-2',
      vid: 0x067b,
      pid: 0x2303,
      devnum: 3,
      serial: 'PL-1',
      ttys: [{ name: 'ttyUSB5', interface: 0 }],
    })
    .add({ usbPath: '2-3', vid: 0x1366, pid: 0x0101, devnum: 4 });
}

const SLOTS = `
[slots.sp]
target = "gimlet-sp"
devices = ["sp-probe", "sp-console"]

[slots.rot]
target = "gimlet-rot"
devices = ["rot-console", "ghost-probe"]
`;

/** Configures some of fakeLab's devices in every way a USB device can be configured, plus two that are not plugged in. */
export const CONFIG = `${SLOTS}
[devices.sp-probe]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "MKPNRQ1ZY3DVX"

[devices.sp-console]
kind = "serial"
path = "/dev/serial/by-id/${FTDI_BY_ID}"

[devices.rot-console]
kind = "serial"
usb = { vid = 0x0403, pid = 0x6010, serial = "FT2X-01", interface = 1 }

[devices.ghost-probe]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "NOT-PLUGGED-IN"

[devices.ghost-console]
kind = "serial"
path = "/dev/serial/by-id/usb-nothing-if00-port0"

[devices.uart]
kind = "serial"
path = "/dev/ttyS0"

# Not the J-Link plugged in (another pid and serial), but the name discover would give that one.
[devices.j-link-000123456789]
kind = "usb"
vid = 0x1366
pid = 0x0101
serial = "000123456790"
`;

export function configFile(t: TestContext, text: string): string {
  const file = join(tempDir(t), 'slots.toml');
  writeFileSync(file, text);
  return file;
}
