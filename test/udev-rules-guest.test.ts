// udev itself, in the QEMU USB lab guest, applying both udev/72-labslot.rules
// and the output of `labslot udev-rules` to emulated probes and adapters, and
// deciding which nodes become root-only and which get /dev/labslot/<device>
// links. The rules' syntax and text are checked in udev-rules.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GENERATED_RULES_FILE, udevRules } from '../src/devices/udev-rules.js';
import { scriptCleanup } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { runInUsbLab, USB_LAB_PREREQUISITES } from './helpers/qemu-usb-lab.js';
import { tempDir } from './helpers/temp-dir.js';
import { parseUdevGuestReport, udevGuestScript, type GuestNode } from './helpers/udev-guest.js';
import { labFrom, SLOT, SP_DEVICES, SP_SERIAL, STATIC_FILE, STATIC_NAME } from './helpers/udev-rules-lab.js';

// ---------------------------------------------------------------------------
// udev itself, in the QEMU guest. The configured hardware: an MCU-Link-like
// probe (gadget, with a HID function and a VCOM), an FTDI console and a probe
// of a vendor the static file does not know. Also present, not configured:
// a second FTDI adapter, a decoy with the probe's vid:pid whose serial the
// probe's serial would match as an unescaped glob, and a second unknown-vendor
// device that no rule may touch.
// ---------------------------------------------------------------------------
const DECOY_SERIAL = 'SP-decoy-1x $k%';
const GUEST_CONFIG = `
${SP_DEVICES}
[devices.console]
kind = "serial"
usb = { vid = 0x0403, pid = 0x6001, serial = "CON-0001", interface = 0 }
[devices.odd-probe]
kind = "usb"
vid = 0x1209
pid = 0xabcd
serial = "ODD-1"
[devices.by-path]
kind = "serial"
path = "/dev/ttyS0"
${SLOT}["sp-probe", "sp-vcom", "console", "odd-probe", "by-path"]
`;

// An unknown key: udev must complain about this file, which proves the "no complaints" check can fail.
const CANARY_NAME = '71-labslot-canary.rules';

describe('udev applies the rules to emulated USB devices (QEMU guest)', () => {
  it('makes exactly the lab hardware root-only and links exactly the configured devices', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const dir = tempDir(t, 'labslot-udev-guest-');
    const generated = join(dir, GENERATED_RULES_FILE);
    writeFileSync(generated, udevRules(labFrom(t, GUEST_CONFIG).lab()));
    const canary = join(dir, CANARY_NAME);
    writeFileSync(canary, 'LABSLOT_CANARY=="x", GOTO="nowhere"\n');
    const cleanup = scriptCleanup();
    t.after(() => cleanup.runAll());
    const result = await runInUsbLab(cleanup, {
      serials: [
        { id: 'con', serial: 'CON-0001', port: 1 },
        { id: 'other', serial: 'CON-0002', port: 2 },
      ],
      gadgets: [
        { name: 'sp', vid: 0x1fc9, pid: 0x0143, serial: SP_SERIAL },
        { name: 'decoy', vid: 0x1fc9, pid: 0x0143, serial: DECOY_SERIAL },
        { name: 'odd', vid: 0x1209, pid: 0xabcd, serial: 'ODD-1' },
        { name: 'odd2', vid: 0x1209, pid: 0xabcd, serial: 'ODD-2' },
      ],
      program: {
        shell: udevGuestScript({ rules: [STATIC_FILE, generated, canary], hid: { gadget: 'sp', udc: 'dummy_udc.0' } }),
      },
      timeoutMs: 90_000,
    });
    const context = `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}\n--- console ---\n${result.console}`;
    assert.equal(result.exitCode, 0, context);
    const report = parseUdevGuestReport(result.stdout);
    const nodesOf = (serial: string): GuestNode[] => report.nodes.filter((n) => n.serial === serial);
    const only = (serial: string, kind: RegExp): GuestNode => {
      const found = nodesOf(serial).filter((n) => kind.test(n.devname));
      assert.equal(found.length, 1, `one ${String(kind)} node of ${serial}: ${JSON.stringify(report.nodes)}`);
      return found[0] as GuestNode;
    };
    const usb = /^bus\/usb\//;
    const sp = only(SP_SERIAL, usb);
    const spAcm = only(SP_SERIAL, /^ttyACM/);
    const spHid = only(SP_SERIAL, /^hidraw/);
    const con = only('CON-0001', /^ttyUSB/);
    const other = only('CON-0002', /^ttyUSB/);

    await t.test('links', () => {
      assert.deepEqual(
        Object.fromEntries([...report.links].sort()),
        {
          console: `/dev/${con.devname}`,
          'odd-probe': `/dev/${only('ODD-1', usb).devname}`,
          'sp-probe': `/dev/${sp.devname}`,
          'sp-vcom': `/dev/${spAcm.devname}`,
        },
        context,
      );
    });

    await t.test('modes', () => {
      const locked = [SP_SERIAL, 'CON-0001', 'ODD-1', 'CON-0002', DECOY_SERIAL].flatMap(nodesOf);
      assert.ok(locked.length >= 9, JSON.stringify(report.nodes));
      for (const node of locked)
        assert.deepEqual(
          [node.devname, node.mode, node.owner, node.group],
          [node.devname, '600', 'root', 'root'],
          `${node.serial}: ${JSON.stringify(node)}`,
        );
      assert.ok(spHid.mode === '600');
      // A device of a vendor the static file does not list, and not configured, keeps udev's defaults.
      const untouched = nodesOf('ODD-2');
      assert.equal(untouched.length, 2);
      for (const node of untouched) assert.notEqual(node.mode, '600', JSON.stringify(node));
    });

    await t.test('udevadm test: which rule gave what', () => {
      const output = (node: GuestNode): string =>
        report.tests.get(node.devname) ?? assert.fail(`no udevadm test output for ${node.devname}`);
      // What our two files did to a node, as "FILE KEY VALUE" (udev logs each applied OWNER, GROUP, MODE and LINK).
      const applied = (node: GuestNode): string[] =>
        [...output(node).matchAll(/\/(72-labslot[a-z-]*\.rules):\d+ (OWNER|GROUP|MODE|LINK) (.*)$/gm)].map(
          (m) => `${m[1] ?? ''} ${m[2] ?? ''} ${m[3] ?? ''}`,
        );
      const generated = (what: string): string => `${GENERATED_RULES_FILE} ${what}`;
      const staticLock = ['OWNER 0', 'GROUP 0', 'MODE 0600'].map((what) => `${STATIC_NAME} ${what}`);
      assert.deepEqual(applied(con), [
        generated('OWNER 0'),
        generated('GROUP 0'),
        generated('MODE 0600'),
        generated("LINK 'labslot/console'"),
      ]);
      assert.match(output(con), /^DEVLINKS=.*\/dev\/labslot\/console/m);
      assert.deepEqual(
        applied(sp).filter((a) => a.includes('LINK')),
        [generated("LINK 'labslot/sp-probe'")],
      );
      assert.ok(applied(sp).includes(generated('MODE 0600')));
      assert.ok(applied(spHid).includes(generated('MODE 0600')));
      // Another adapter of a listed vendor, and the decoy: root-only by the static file, no link.
      assert.deepEqual(applied(other), staticLock);
      assert.deepEqual(applied(only(DECOY_SERIAL, usb)), staticLock);
      assert.deepEqual(applied(only('ODD-2', usb)), []);
    });

    await t.test('udev reads both files without a complaint', () => {
      const all = [...report.tests.values()].join('');
      const complaints = (file: string): string[] =>
        all.split('\n').filter((l) => l.includes(`/${file}:`) && /invalid|ignor|unknown|fail|error|warn/i.test(l));
      assert.ok(
        complaints(CANARY_NAME).length > 0,
        `udev did not complain about the canary; the check below proves nothing:\n${all.slice(0, 4000)}`,
      );
      assert.deepEqual([...complaints(STATIC_NAME), ...complaints(GENERATED_RULES_FILE)], []);
    });
  });
});
