// `labslot discover` on a real (emulated) USB bus, as an operator runs it on a
// lab host (DESIGN §6; the lab is usb-cli-lab.ts: a QEMU guest with two
// MCU-Link gadgets, 1fc9:0143, told apart by serial, and an FTDI usb-serial
// adapter; the guest program is discover-guest.ts). The config names only the
// SP probe and a probe that is not plugged in: discover must list all three
// with their identity, model, ttys and links, mark the SP probe, report the
// other probe absent, and print stanzas for the RoT probe and the adapter that,
// appended to the config, pass `labslot config validate` and `labslot check`.
// One guest, step by step; the same on a fake sysfs tree is discover.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckJson } from './helpers/api-types.js';
import { DISCOVERED_SLOT, SPARE_SERIAL, stanzaNames } from './helpers/discover-guest.js';
import type { Exit } from './helpers/guest-labslot.js';
import { requires } from './helpers/prerequisites.js';
import { USB_LAB_PREREQUISITES, type UsbLab } from './helpers/qemu-usb-lab.js';
import { CONSOLE, ROT, SP, waitForPhase } from './helpers/usb-cli-lab.js';
import { guestForSuite, seconds } from './helpers/usb-cli-suite.js';

interface DiscoveredJson {
  usb_path: string;
  node: string;
  vid: string;
  pid: string;
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
  model: string | null;
  class: string | null;
  ttys: { tty: string; interface: number | null; by_id: string | null; by_path: string | null }[];
  configured_as: { device: string; kind: string; slots: string[]; as: string; tty: string | null }[] | null;
  suggested_name: string | null;
}

interface DiscoverJson {
  devices: DiscoveredJson[];
  absent: { device: string; kind: string; what: string; slots: string[] }[];
}

type Step = Exit & { phase: 'discover'; step: string };

async function step(lab: UsbLab, name: string, timeoutMs = 90_000): Promise<Step> {
  return waitForPhase<Step>(lab, `discover","step":"${name}`, timeoutMs);
}

function parsed(r: Step): unknown {
  try {
    return JSON.parse(r.stdout) as unknown;
  } catch {
    throw new Error(`not JSON (exit ${r.code ?? 'none'}):\n${r.stdout}\n${r.stderr}`);
  }
}

const hex = (n: number): string => n.toString(16).padStart(4, '0');

function deviceWith(json: DiscoverJson, serial: string): DiscoveredJson {
  const found = json.devices.find((d) => d.serial === serial);
  assert.ok(found, `no device with serial ${serial} in ${JSON.stringify(json.devices)}`);
  return found;
}

describe('labslot discover in a QEMU guest with two MCU-Link gadgets and an FTDI adapter', () => {
  const guest = guestForSuite('discover');

  it('--json: all three with identity, model, ttys and USB path; the configured one marked; the absent one named', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const r = await step(lab, 'json', 110_000);
    t.diagnostic(
      `guest: ${seconds(lab.timings.programMs)} from QEMU's start to the guest program; discover took ${seconds(r.ms)} under TCG`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const json = parsed(r) as DiscoverJson;
    assert.deepEqual(
      json.devices.map((d) => `${d.vid}:${d.pid} ${d.serial ?? '-'}`).sort(),
      [SP, ROT, CONSOLE].map((d) => `${hex(d.vid)}:${hex(d.pid)} ${d.serial}`).sort(),
      'exactly the two gadgets and the adapter (no root hub, no dummy_hcd plumbing)',
    );
    for (const d of json.devices) {
      assert.match(d.usb_path, /^\d+-[\d.]+$/);
      assert.match(d.node, /^\/dev\/bus\/usb\/\d{3}\/\d{3}$/);
    }
    const sp = deviceWith(json, SP.serial);
    const rot = deviceWith(json, ROT.serial);
    const ftdi = deviceWith(json, CONSOLE.serial);
    for (const probe of [sp, rot]) {
      assert.equal(probe.model, 'MCU-Link');
      assert.equal(probe.class, 'probe');
      assert.equal(probe.manufacturer, 'NXP');
      assert.equal(probe.product, 'MCU-Link');
      // The gadgets have an ACM function: the probe's VCOM port.
      assert.equal(probe.ttys.length, 1, JSON.stringify(probe.ttys));
      assert.match(probe.ttys[0]?.tty ?? '', /^\/dev\/ttyACM\d+$/);
    }
    assert.equal(ftdi.model, 'FTDI FT232R');
    assert.equal(ftdi.class, 'serial-adapter');
    assert.equal(ftdi.ttys.length, 1, JSON.stringify(ftdi.ttys));
    assert.match(ftdi.ttys[0]?.tty ?? '', /^\/dev\/ttyUSB\d+$/);
    assert.match(
      ftdi.ttys[0]?.by_id ?? '',
      new RegExp(`^/dev/serial/by-id/usb-.*${CONSOLE.serial}.*$`),
      'udev by-id link',
    );

    assert.deepEqual(sp.configured_as, [{ device: 'sp-probe', kind: 'usb', slots: ['sp'], as: 'probe', tty: null }]);
    assert.deepEqual(rot.configured_as, []);
    assert.deepEqual(ftdi.configured_as, []);
    assert.equal(sp.suggested_name, null);
    assert.equal(rot.suggested_name, `mcu-link-${ROT.serial.toLowerCase()}`);
    assert.equal(ftdi.suggested_name, `ftdi-${CONSOLE.serial.toLowerCase()}`);
    assert.deepEqual(json.absent, [
      { device: 'spare-probe', kind: 'usb', what: `usb 1fc9:0143 serial ${SPARE_SERIAL}`, slots: [] },
    ]);
  });

  it('the table: every device with its configured name, then the absent ones', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const r = await step(lab, 'table');
    t.diagnostic(`labslot discover:\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0] ?? '', /^USB +NODE +ID +SERIAL +MODEL +PRODUCT +TTY +BY-ID +CONFIGURED AS$/);
    assert.match(r.stdout, new RegExp(`1fc9:0143 +${SP.serial} +MCU-Link .* sp-probe$`, 'm'));
    assert.match(r.stdout, new RegExp(`1fc9:0143 +${ROT.serial} +MCU-Link .* -$`, 'm'));
    assert.match(r.stdout, new RegExp(`0403:6001 +${CONSOLE.serial} +FTDI FT232R .*/dev/ttyUSB\\d+ .* -$`, 'm'));
    assert.match(
      r.stdout,
      /^Configured but not plugged in:\nDEVICE +KIND +WHAT +SLOTS\nspare-probe +usb +usb 1fc9:0143 serial NOT-PLUGGED-IN +-$/m,
    );
  });

  it('--toml: stanzas for the RoT probe and the adapter that, appended to the config, pass config validate and check', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const toml = await step(lab, 'toml');
    t.diagnostic(`labslot discover --toml:\n${toml.stdout}`);
    assert.equal(toml.code, 0, toml.stderr);
    // In bus order: the adapter is on the xHCI controller (bus 1), the gadgets on dummy_hcd's buses.
    const names = [`mcu-link-${ROT.serial.toLowerCase()}`, `ftdi-${CONSOLE.serial.toLowerCase()}`];
    assert.deepEqual(stanzaNames(toml.stdout).sort(), [...names].sort());
    assert.ok(!toml.stdout.includes(SP.serial), 'the configured SP probe got a stanza');

    const validate = await step(lab, 'validate');
    assert.equal(validate.code, 0, `config validate: ${validate.stdout}${validate.stderr}`);
    assert.match(validate.stdout, /: ok: 2 slots, 4 devices/);

    const check = await step(lab, 'check');
    const json = parsed(check) as CheckJson;
    const summary = json.slots.flatMap((s) => s.devices.map((d) => `${s.name}/${d.name}: ${d.reason}`)).join('; ');
    t.diagnostic(`labslot check took ${seconds(check.ms)}: ${summary}`);
    assert.equal(check.code, 0, `${summary}\n${check.stderr}`);
    const slot = json.slots.find((s) => s.name === DISCOVERED_SLOT);
    assert.deepEqual(
      slot?.devices.map((d) => [d.name, d.ok]).sort(),
      names.map((name) => [name, true]).sort(),
      summary,
    );
  });

  it('without a config: exit 0, the same devices, no "configured as", nothing absent', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const r = await step(lab, 'no-config');
    assert.equal(r.code, 0, r.stderr);
    const json = parsed(r) as DiscoverJson;
    assert.equal(json.devices.length, 3);
    assert.ok(json.devices.every((d) => d.configured_as === null));
    assert.deepEqual(json.absent, []);
  });

  it('the guest program ends with exit 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await waitForPhase(lab, 'done', 30_000);
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, lab.explain('the guest program did not exit 0'));
  });
});
