// `labslot discover` on a fake sysfs tree (helpers/fake-sysfs.ts): what is
// read, which model each device is, which configured device it is, what is
// absent, and the --toml stanzas: names that fit the schema and are unique,
// and text that the real config loader accepts appended to the config. The
// lab host is helpers/discover-lab.ts; the same on a real (emulated) USB bus
// is usb-qemu-discover.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'toml';
import { NAME_PATTERN } from '../src/config/schema.js';
import { discover } from '../src/devices/discover.js';
import { stanzasToml, suggestStanzas, tomlString } from '../src/devices/discover-stanzas.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { udevRules } from '../src/devices/udev-rules.js';
import { probeModel } from '../src/devices/probe-models.js';
import { readUsbInventory } from '../src/devices/usb-inventory.js';
import { runCli } from './helpers/cli.js';
import { CH340_BY_PATH, CONFIG, configFile, fakeLab, FTDI_BY_ID, ODD_SERIAL } from './helpers/discover-lab.js';
import { FakeSysfs } from './helpers/fake-sysfs.js';
import { tempDir } from './helpers/temp-dir.js';

describe('probe models', () => {
  it('names the known probes and adapters, CMSIS-DAP by its product string, and no other', () => {
    const name = (vid: number, pid: number, product: string | null = null): string | undefined =>
      probeModel(vid, pid, product)?.name;
    assert.equal(name(0x1fc9, 0x0143, 'MCU-Link CMSIS-DAP'), 'MCU-Link');
    assert.deepEqual(
      [0x374b, 0x374e, 0x3748].map((pid) => name(0x0483, pid)),
      ['ST-Link/V2-1', 'STLINK-V3', 'ST-Link/V2'],
    );
    assert.equal(name(0x1366, 0x1051), 'J-Link');
    assert.equal(name(0x1366, 0x0105), 'J-Link');
    assert.equal(name(0x2e8a, 0x000c, 'Debugprobe on Pico (CMSIS-DAP)'), 'CMSIS-DAP');
    assert.deepEqual(
      [0x6001, 0x6010, 0x6011, 0x6014, 0x6015].map((pid) => probeModel(0x0403, pid, null)?.slug),
      ['ftdi', 'ftdi', 'ftdi', 'ftdi', 'ftdi'],
    );
    assert.equal(probeModel(0x10c4, 0xea60, null)?.class, 'serial-adapter');
    assert.equal(name(0x10c4, 0xea70), 'CP2105');
    assert.equal(name(0x1a86, 0x7523), 'CH340');
    assert.equal(name(0x1a86, 0x55d4), 'CH9102');
    assert.equal(name(0x067b, 0x2303), 'PL2303');
    assert.equal(probeModel(0x1fc9, 0x0143, null)?.class, 'probe');
    assert.equal(name(0x0483, 0x5740), undefined);
    assert.equal(name(0x0627, 0x0001, 'QEMU USB Keyboard'), undefined);
  });
});

describe('the USB inventory from sysfs', () => {
  it('reads each device, its ttys and their udev links; no hub, no root hub; in bus-port order', (t) => {
    const fake = fakeLab(t);
    const inventory = readUsbInventory(fake.roots);
    assert.deepEqual(
      inventory.map((d) => d.usbPath),
      ['1-1.1', '1-1.2', '1-2', '1-3', '1-4', '1-5', '1-6', '1-7', '1-8', '1-9', '1-10', '2-1', '2-2', '2-3'],
    );
    const ftdi = inventory.find((d) => d.usbPath === '1-2');
    assert.deepEqual(ftdi, {
      ...{ vid: 0x0403, pid: 0x6001, serial: 'A10KZP4J', manufacturer: 'FTDI', product: 'FT232R USB UART' },
      ...{ busNumber: 1, deviceAddress: 5, usbPath: '1-2', node: '/dev/bus/usb/001/005' },
      ttys: [
        { name: 'ttyUSB0', node: '/dev/ttyUSB0', interface: 0, byId: `/dev/serial/by-id/${FTDI_BY_ID}`, byPath: null },
      ],
    });
    const mcuLink = inventory.find((d) => d.usbPath === '1-1.1');
    assert.deepEqual(
      mcuLink?.ttys.map((tty) => [tty.node, tty.interface]),
      [['/dev/ttyACM0', 2]],
    );
    assert.deepEqual(
      inventory.find((d) => d.usbPath === '1-3')?.ttys.map((tty) => [tty.name, tty.interface]),
      [
        ['ttyUSB1', 0],
        ['ttyUSB2', 1],
      ],
    );
    assert.equal(inventory.find((d) => d.usbPath === '2-3')?.serial, null);
    assert.equal(inventory.find((d) => d.usbPath === '2-1')?.serial, ODD_SERIAL);
  });

  it('is empty without a USB bus', (t) => {
    assert.deepEqual(readUsbInventory({ sysfs: join(tempDir(t), 'sys'), dev: '/dev' }), []);
  });
});

describe('discover', () => {
  it('without a config: every probe and serial adapter, and nothing else', (t) => {
    const fake = fakeLab(t);
    const found = discover(readUsbInventory(fake.roots), undefined, fake.roots);
    assert.deepEqual(
      found.devices.map((d) => [d.usbPath, d.model?.name ?? null]),
      [
        ['1-1.1', 'MCU-Link'],
        ['1-1.2', 'MCU-Link'],
        ['1-2', 'FTDI FT232R'],
        ['1-3', 'FTDI FT2232'],
        ['1-4', 'CP210x'],
        ['1-5', 'CH340'],
        ['1-6', 'J-Link'],
        ['1-7', 'STLINK-V3'],
        ['1-8', 'CMSIS-DAP'],
        // No model labslot knows, but a tty: a serial device all the same.
        ['1-10', null],
        ['2-1', 'ST-Link/V2'],
        ['2-2', 'PL2303'],
        ['2-3', 'J-Link'],
      ],
    );
    assert.ok(found.devices.every((d) => d.configuredAs.length === 0));
    assert.deepEqual(found.absent, []);
  });

  it('with a config: which configured device each one is, by identity (and interface) or path; the absent ones', (t) => {
    const fake = fakeLab(t);
    const lab = loadLabConfig(configFile(t, CONFIG));
    const found = discover(readUsbInventory(fake.roots), lab, fake.roots);
    const configured = Object.fromEntries(
      found.devices.filter((d) => d.configuredAs.length > 0).map((d) => [d.usbPath, d.configuredAs]),
    );
    assert.deepEqual(configured, {
      '1-1.1': [{ device: 'sp-probe', kind: 'usb', slots: ['sp'], as: 'probe', tty: null }],
      '1-2': [{ device: 'sp-console', kind: 'serial', slots: ['sp'], as: 'console', tty: '/dev/ttyUSB0' }],
      // The second port of the FT2232; the first is free.
      '1-3': [{ device: 'rot-console', kind: 'serial', slots: ['rot'], as: 'console', tty: '/dev/ttyUSB2' }],
    });
    // The on-board UART is there, only not on USB: neither listed nor absent.
    assert.deepEqual(
      found.absent.map((a) => [a.device, a.kind, a.what, a.slots]),
      [
        ['ghost-console', 'serial', 'serial /dev/serial/by-id/usb-nothing-if00-port0 @115200', []],
        ['ghost-probe', 'usb', 'usb 1fc9:0143 serial NOT-PLUGGED-IN', ['rot']],
        ['j-link-000123456789', 'usb', 'usb 1366:0101 serial 000123456790', []],
      ],
    );
  });

  it('a console on another port of a multi-port adapter than the one plugged in is absent', (t) => {
    const fake = new FakeSysfs(tempDir(t)).add({
      ...{ usbPath: '1-3', vid: 0x0403, pid: 0x6010, devnum: 6, serial: 'FT2X-01' },
      ttys: [{ name: 'ttyUSB1', interface: 0 }],
    });
    const lab = loadLabConfig(
      configFile(
        t,
        `[slots.rot]\ntarget = "x"\ndevices = ["c"]\n[devices.c]\nkind = "serial"\nusb = { vid = 0x0403, pid = 0x6010, serial = "FT2X-01", interface = 1 }\n`,
      ),
    );
    const found = discover(readUsbInventory(fake.roots), lab, fake.roots);
    assert.deepEqual(found.devices[0]?.configuredAs, []);
    assert.deepEqual(
      found.absent.map((a) => a.device),
      ['c'],
    );
  });
});

describe('discover --toml', () => {
  it('names each unconfigured device after its model and serial: valid, at most 48 characters, unique', (t) => {
    const fake = fakeLab(t);
    const lab = loadLabConfig(configFile(t, CONFIG));
    const stanzas = suggestStanzas(discover(readUsbInventory(fake.roots), lab, fake.roots), lab.devices.keys());
    assert.deepEqual(
      stanzas.map((s) => [s.usbPath, s.name, s.commented]),
      [
        ['1-1.2', 'mcu-link-ghz4gaxhqj1w3', false],
        // The probe's VCOM port, offered commented out.
        ['1-1.2', 'mcu-link-ghz4gaxhqj1w3-console', true],
        // The FT2232's port the config does not use.
        ['1-3', 'ftdi-ft2x-01-if0', false],
        ['1-4', 'cp210x-0001', false],
        // No serial: named after its USB port.
        ['1-5', 'ch34x-usb-1-5', false],
        // The config has a device of this name already (another J-Link).
        ['1-6', 'j-link-000123456789-2', false],
        ['1-7', 'st-link-0669ff555187534867153938-and-a-very-long', false],
        ['1-8', 'cmsis-dap-e6614103e7', false],
        ['1-10', 'usb-serial-zephyr', false],
        // A serial udev rules cannot match (a quote, a backslash, DEL): commented out.
        ['2-1', 'st-link-a-b-c-d', true],
        ['2-2', 'pl2303-pl-1', false],
        // A probe without a serial cannot be configured (the schema wants one): commented out.
        ['2-3', 'j-link-usb-2-3', true],
      ],
    );
    for (const { name } of stanzas) {
      assert.match(name, NAME_PATTERN);
      assert.ok(name.length <= 48, name);
    }
    const multiPort = suggestStanzas(discover(readUsbInventory(fake.roots), undefined, fake.roots), []).filter(
      (s) => s.usbPath === '1-3',
    );
    assert.deepEqual(
      multiPort.map((s) => s.name),
      ['ftdi-ft2x-01-if0', 'ftdi-ft2x-01-if1'],
    );
  });

  it('prints stanzas that the real config loader accepts appended to the config; then every device is configured', (t) => {
    const fake = fakeLab(t);
    const lab = loadLabConfig(configFile(t, CONFIG));
    const found = discover(readUsbInventory(fake.roots), lab, fake.roots);
    const stanzas = suggestStanzas(found, lab.devices.keys());
    const toml = stanzasToml(stanzas, lab.file);
    const usable = stanzas.filter((s) => !s.commented).map((s) => s.name);
    assert.ok(toml.includes(`# devices = [${usable.map((n) => JSON.stringify(n)).join(', ')}]`), toml);
    assert.match(
      toml,
      /^# MCU-Link \(NXP MCU-Link\) 1fc9:0143 serial "GHZ4GAXHQJ1W3" at usb 1-1\.2, \/dev\/bus\/usb\/001\/004$/m,
    );
    assert.ok(toml.includes(`path = "/dev/serial/by-path/${CH340_BY_PATH}"`), toml);
    assert.ok(toml.includes('usb = { vid = 0x10c4, pid = 0xea60, serial = "0001" }'), toml);

    // Appended as printed, with a slot that lists them: the real loader, every cross-check included.
    const slot = `\n[slots.discovered]\ntarget = "new"\ndevices = [${usable.map((n) => JSON.stringify(n)).join(', ')}]\n`;
    const appended = loadLabConfig(configFile(t, `${CONFIG}\n${toml}${slot}`));
    // And `labslot udev-rules` can still write rules for all of it (no serial it cannot match).
    assert.doesNotThrow(() => udevRules(appended));
    assert.equal(appended.devices.get('mcu-link-ghz4gaxhqj1w3')?.spec.kind, 'usb');
    assert.equal(appended.devices.get('cp210x-0001')?.spec.kind, 'serial');

    // Rediscovered with them: every device is some configured device, but the two probes without a usable serial.
    const again = discover(readUsbInventory(fake.roots), appended, fake.roots);
    assert.deepEqual(
      again.devices.filter((d) => d.configuredAs.length === 0).map((d) => d.usbPath),
      ['2-1', '2-3'],
    );
    assert.deepEqual(
      suggestStanzas(again, appended.devices.keys()).map((s) => [s.name, s.commented]),
      [
        ['st-link-a-b-c-d', true],
        ['j-link-usb-2-3', true],
      ],
    );
  });

  it('a probe whose VCOM port is configured still gets its own stanza; an adapter port configured leaves the others', (t) => {
    const fake = new FakeSysfs(tempDir(t))
      .add({
        ...{ usbPath: '1-1', vid: 0x1fc9, pid: 0x0143, devnum: 2, serial: 'P1' },
        ttys: [{ name: 'ttyACM0', interface: 2, byId: 'usb-NXP_MCU-Link_P1-if02' }],
      })
      .add({
        ...{ usbPath: '1-2', vid: 0x0403, pid: 0x6011, devnum: 3, serial: 'QUAD' },
        ttys: [0, 1, 2, 3].map((i) => ({ name: `ttyUSB${i}`, interface: i })),
      });
    // A console without usb.interface is the adapter's lowest-numbered port (as the serial check picks it).
    const lab = loadLabConfig(
      configFile(
        t,
        `[slots.s]\ntarget = "t"\ndevices = ["vcom", "quad"]\n` +
          `[devices.vcom]\nkind = "serial"\npath = "/dev/serial/by-id/usb-NXP_MCU-Link_P1-if02"\n` +
          `[devices.quad]\nkind = "serial"\nusb = { vid = 0x0403, pid = 0x6011, serial = "QUAD" }\n`,
      ),
    );
    const found = discover(readUsbInventory(fake.roots), lab, fake.roots);
    assert.deepEqual(
      found.devices.map((d) => d.configuredAs.map((c) => [c.device, c.as, c.tty])),
      [[['vcom', 'console', '/dev/ttyACM0']], [['quad', 'console', '/dev/ttyUSB0']]],
    );
    assert.deepEqual(
      suggestStanzas(found, lab.devices.keys()).map((s) => [s.name, s.commented]),
      [
        ['mcu-link-p1', false],
        ['ftdi-quad-if1', false],
        ['ftdi-quad-if2', false],
        ['ftdi-quad-if3', false],
      ],
    );
  });

  it('without a config, the stanzas alone and a slot are a valid config', (t) => {
    const fake = fakeLab(t);
    const stanzas = suggestStanzas(discover(readUsbInventory(fake.roots), undefined, fake.roots), []);
    const usable = stanzas.filter((s) => !s.commented).map((s) => JSON.stringify(s.name));
    const slot = `\n[slots.all]\ntarget = "t"\ndevices = [${usable.join(', ')}]\n`;
    const lab = loadLabConfig(configFile(t, `${stanzasToml(stanzas, undefined)}${slot}`));
    assert.equal(lab.devices.size, usable.length);
  });

  it('quotes strings as TOML reads them back', () => {
    for (const value of [ODD_SERIAL, 'tab\there', 'uni\u00e9', '\u0001\u001f'])
      assert.equal((parseToml(`x = ${tomlString(value)}`) as { x: string }).x, value);
  });
});

describe('labslot discover (the built CLI)', () => {
  it('exits 0 without a config at the default path, and 2 for a bad or missing named config', async (t) => {
    const dir = tempDir(t);
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[slots.x]\ntarget = 1\n');
    const env = { LABSLOT_CONFIG: '' };
    const plain = await runCli(['discover', '--json'], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(Object.keys(JSON.parse(plain.stdout) as object), ['devices', 'absent']);
    for (const args of [
      ['discover', '-c', bad],
      ['discover', '--toml', '-c', join(dir, 'missing.toml')],
    ]) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^labslot: configuration rejected/m);
    }
    const fromEnv = await runCli(['discover'], { env: { LABSLOT_CONFIG: bad } });
    assert.equal(fromEnv.code, 2, fromEnv.stderr);
  });
});
