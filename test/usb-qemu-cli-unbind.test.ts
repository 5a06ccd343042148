// The built `labslot check` on a real (emulated) USB bus (DESIGN §6; the lab
// is usb-cli-lab.ts: a QEMU guest with an SP probe and an RoT probe of one
// model, told apart by serial, and an FTDI console): after the console has
// been unplugged and replugged over QMP, the RoT probe's gadget is unbound in
// the guest, then bound again; `labslot check --json` after each. One guest
// serves every test, step by step (usb-qemu-cli.test.ts says why this is a
// file, and a guest, of its own).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requires } from './helpers/prerequisites.js';
import { USB_LAB_PREREQUISITES } from './helpers/qemu-usb-lab.js';
import {
  checkReport,
  checkSummary,
  CONSOLE_ID,
  deviceOf,
  ROT,
  slotOf,
  SP,
  waitForPhase,
} from './helpers/usb-cli-lab.js';
import { guestForSuite, seconds } from './helpers/usb-cli-suite.js';

describe('labslot check in a QEMU guest with probes and a console: the RoT probe unbound', () => {
  const guest = guestForSuite('unbind');

  it('RoT probe unbound (console unplugged and replugged first): only slot rot is unhealthy, naming it and the SP probe that is present', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await waitForPhase(lab, 'devices-ready', 100_000);
    t.diagnostic(`guest: ${seconds(lab.timings.programMs)} from QEMU's start to the guest program`);
    await lab.unplug(CONSOLE_ID);
    await waitForPhase(lab, 'console-gone', 60_000);
    // The guest unbinds the RoT gadget once the console is back.
    await lab.replug(CONSOLE_ID);
    const r = await checkReport(lab, 'rot-out', 90_000);
    const rot = deviceOf(r, 'rot', 'rot-probe');
    t.diagnostic(`rot-probe: ${rot.reason}; the check took ${seconds(r.ms)} under TCG`);
    assert.equal(r.code, 1);
    assert.equal(slotOf(r, 'rot').healthy, false);
    assert.equal(slotOf(r, 'sp').healthy, true, `the replugged console answers again: ${checkSummary(r)}`);
    assert.equal(rot.ok, false);
    assert.match(rot.reason, new RegExp(`^usb 1fc9:0143 serial ${ROT.serial} not present`));
    assert.match(
      rot.reason,
      new RegExp(`present with 1fc9:0143: serial ${SP.serial}\\)$`),
      'the reason lists the SP probe as what is there',
    );
  });

  it('RoT probe bound again: labslot check exits 0 with every device healthy', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const r = await checkReport(lab, 'all-back', 90_000);
    assert.equal(r.code, 0, checkSummary(r));
    assert.ok(
      r.slots.every((s) => s.healthy && s.devices.every((d) => d.ok === true)),
      checkSummary(r),
    );
  });

  it('the guest program ends with exit 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await waitForPhase(lab, 'done', 30_000);
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, lab.explain('the guest program did not exit 0'));
  });
});
