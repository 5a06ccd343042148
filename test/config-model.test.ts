// The example config and the model derived from configs: conflicts in both
// directions and through shared devices, device users, merged limits, paths.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config/config-error.js';
import { configPathFrom } from '../src/config/load-config.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dir.js';

const EXAMPLE = join(PROJECT_ROOT, 'slots.example.toml');

describe('slots.example.toml', () => {
  const lab = loadLabConfig(EXAMPLE);

  it('describes two Gimlets and a Sidecar', () => {
    assert.deepEqual([...lab.slots.keys()], ['gimlet-1', 'gimlet-2', 'sidecar-1']);
    assert.deepEqual(Object.fromEntries(lab.targets), { gimlet: ['gimlet-1', 'gimlet-2'], sidecar: ['sidecar-1'] });
    const kinds = new Set([...lab.devices.values()].map((d) => d.spec.kind));
    assert.deepEqual([...kinds].sort(), ['command', 'ipv6', 'power', 'serial', 'usb']);
  });

  it('derives conflicts from explicit lists (both ways) and shared devices', () => {
    assert.deepEqual(lab.slots.get('gimlet-1')?.conflicts, ['sidecar-1']);
    assert.deepEqual(lab.slots.get('gimlet-2')?.conflicts, ['sidecar-1']);
    assert.deepEqual(lab.slots.get('sidecar-1')?.conflicts, ['gimlet-1', 'gimlet-2']);
    assert.deepEqual(lab.devices.get('rack-a-console-mux')?.usedBy, ['gimlet-2', 'sidecar-1']);
    assert.deepEqual(lab.devices.get('gimlet-1-sp-probe')?.usedBy, ['gimlet-1']);
  });

  it('merges slot limits over the [jobs] defaults', () => {
    assert.deepEqual(lab.slots.get('gimlet-1')?.limits, {
      memory: 6 * 2 ** 30,
      pids: 2048,
      cpu: 1.5,
      shm: 64 * 2 ** 20,
      disk: 4 * 2 ** 30,
    });
    assert.deepEqual(lab.slots.get('sidecar-1')?.limits, {
      memory: 4 * 2 ** 30,
      pids: 1024,
      cpu: 1.5,
      shm: 64 * 2 ** 20,
      disk: 4 * 2 ** 30,
    });
  });

  it('reads hex vid/pid and durations as numbers', () => {
    const probe = lab.devices.get('gimlet-1-sp-probe')?.spec;
    assert.equal(probe?.kind === 'usb' && probe.vid, 0x1fc9);
    assert.equal(lab.config.health.interval, 30_000);
    assert.equal(lab.config.jobs.stop_grace, 10_000);
  });
});

describe('loading configs', () => {
  it('reports every problem of a file at once, each located', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      [
        '[health]',
        'interval = "soon"',
        '[devices.sp]',
        'kind = "usb"',
        'vid = 0x1fc9',
        'pid = 0x10000',
        'serial = "A"',
        '[slots.one]',
        'target = "gimlet"',
        'devices = ["sp", "nope"]',
        'conflicts_with_slots = ["one"]',
        'devcies = []',
      ].join('\n'),
    );
    assert.throws(
      () => loadLabConfig(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const found = error.issues.map((i) => `${i.line ?? '?'} ${i.path ?? ''}`);
        assert.deepEqual(found, [
          '2 health.interval',
          '6 devices.sp.pid',
          '10 slots.one.devices[1]',
          '11 slots.one.conflicts_with_slots[0]',
          '12 slots.one.devcies',
        ]);
        assert.match(error.issues.at(-1)?.message ?? '', /did you mean "devices"/);
        return true;
      },
    );
  });

  it("suggests only keys the device's own kind (and driver) allows", (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(
      file,
      [
        '[devices.sp]',
        'kind = "usb"',
        'vid = 0x1fc9',
        'pid = 0x0143',
        'serial = "A"',
        'baudrate = 115200',
        'rol = "sp-probe"',
        '[devices.console]',
        'kind = "serial"',
        'path = "/dev/ttyUSB0"',
        'baudrate = 115200',
        '[devices.outlet]',
        'kind = "power"',
        'driver = "command"',
        'on = ["true"]',
        'off = ["true"]',
        'status = ["true"]',
        'prot = 3',
        '[slots.one]',
        'target = "gimlet"',
        'devices = ["sp", "console", "outlet"]',
      ].join('\n'),
    );
    assert.throws(
      () => loadLabConfig(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(
          error.issues.map((i) => `${i.path ?? ''}: ${i.message}`),
          [
            // "baud" is a serial console's key, and "port" a pdudaemon outlet's: neither is offered where it is not valid either.
            'devices.sp.baudrate: unknown key',
            'devices.sp.rol: unknown key (did you mean "role"?)',
            'devices.console.baudrate: unknown key (did you mean "baud"?)',
            'devices.outlet.prot: unknown key',
          ],
        );
        return true;
      },
    );
  });

  it('takes a relative state_dir from the config file, and --state-dir from the working directory', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      '[agent]\nstate_dir = "state"\n[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.a]\ntarget = "t"\ndevices = ["c"]\n',
    );
    assert.equal(loadLabConfig(file).stateDir, join(dir, 'state'));
    assert.equal(loadLabConfig(file, { stateDir: 'elsewhere' }).stateDir, join(process.cwd(), 'elsewhere'));
  });

  it('finds the config by -c, then $LABSLOT_CONFIG, then /etc/labslot/slots.toml', () => {
    assert.equal(configPathFrom('a.toml', { LABSLOT_CONFIG: 'b.toml' }), 'a.toml');
    assert.equal(configPathFrom(undefined, { LABSLOT_CONFIG: 'b.toml' }), 'b.toml');
    assert.equal(configPathFrom(undefined, {}), '/etc/labslot/slots.toml');
  });
});

describe('hardware shared under two names', () => {
  it('makes slots conflict when a probe and a console are one USB device', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      '[devices.probe]\nkind = "usb"\nvid = 0x1fc9\npid = 0x0143\nserial = "MK1"\n' +
        '[devices.vcom]\nkind = "serial"\nusb = { vid = 0x1fc9, pid = 0x0143, serial = "MK1" }\n' +
        '[slots.a]\ntarget = "t"\ndevices = ["probe"]\n[slots.b]\ntarget = "t"\ndevices = ["vcom"]\n',
    );
    const lab = loadLabConfig(file);
    assert.deepEqual(lab.slots.get('a')?.conflicts, ['b']);
    assert.deepEqual(lab.slots.get('b')?.conflicts, ['a']);
  });

  it('rejects one outlet or one console path defined twice', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      '[devices.p1]\nkind = "power"\ndriver = "pdudaemon"\npdu = "rack"\nport = 3\n[devices.p2]\nkind = "power"\ndriver = "pdudaemon"\npdu = "rack"\nport = 3\n' +
        '[devices.c1]\nkind = "serial"\npath = "/dev/ttyUSB0"\n[devices.c2]\nkind = "serial"\npath = "/dev/ttyUSB0"\n' +
        '[slots.a]\ntarget = "t"\ndevices = ["p1", "c1"]\n[slots.b]\ntarget = "t"\ndevices = ["p2", "c2"]\n',
    );
    assert.throws(
      () => loadLabConfig(file),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.some(
          (i) => i.path === 'devices.p2' && /outlet rack port 3 is already device "p1"/.test(i.message),
        ) &&
        error.issues.some(
          (i) => i.path === 'devices.c2' && /console \/dev\/ttyUSB0 is already device "c1"/.test(i.message),
        ),
    );
  });
});
