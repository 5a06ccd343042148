// The built `labslot check` on a real (emulated) USB bus, as an operator runs
// it on a lab host (DESIGN §6; the lab is usb-cli-lab.ts: a QEMU guest with an
// SP probe and an RoT probe of one model, told apart by serial, and an FTDI
// console whose far end is a fake SP console): `labslot check --json` with
// everything plugged in, then after the console is unplugged over QMP. One
// guest serves every test, step by step. The same lab with the RoT probe
// unbound is usb-qemu-cli-unbind.test.ts, and `labslot agent` is
// usb-qemu-agent.test.ts, each in a guest of its own: under TCG on a loaded
// two-core machine all of it in one guest did not fit in the runner's 120 s per file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requires } from './helpers/prerequisites.js';
import { USB_LAB_PREREQUISITES } from './helpers/qemu-usb-lab.js';
import {
  checkReport,
  checkSummary,
  CONSOLE_ID,
  CONSOLE_ID_TEXT,
  deviceOf,
  ROT,
  slotOf,
  SP,
  waitForPhase,
} from './helpers/usb-cli-lab.js';
import { guestForSuite, seconds } from './helpers/usb-cli-suite.js';

describe('labslot check in a QEMU guest with probes and a console: the console unplugged', () => {
  const guest = guestForSuite('unplug');

  it('labslot check --json: exit 0, both probes present, the console answers its probe', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab, prompts } = await guest();
    const r = await checkReport(lab, 'all', 110_000);
    t.diagnostic(
      `guest: ${seconds(lab.timings.programMs)} from QEMU's start to the guest program; ${seconds(performance.now() - lab.startedAt)} to the first check's report; that check took ${seconds(r.ms)} under TCG`,
    );
    assert.equal(r.code, 0, checkSummary(r));
    assert.equal(r.healthy, true);
    assert.equal(r.host.ok, true, r.host.reason);
    assert.deepEqual(
      Object.fromEntries(r.slots.map((s) => [s.name, s.healthy])),
      { sp: true, rot: true },
      checkSummary(r),
    );
    assert.equal(deviceOf(r, 'sp', 'sp-probe').reason, `usb 1fc9:0143 serial ${SP.serial} present`);
    assert.equal(deviceOf(r, 'rot', 'rot-probe').reason, `usb 1fc9:0143 serial ${ROT.serial} present`);
    const tty = deviceOf(r, 'sp', 'sp-console');
    assert.match(tty.reason, /^serial \/dev\/ttyUSB\d+ answered$/);
    assert.match(tty.detail ?? '', /hubris> /);
    assert.ok(prompts() >= 1, 'the fake console never saw the probe');
  });

  it('console unplugged (QMP device_del): only slot sp is unhealthy, naming the adapter', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await lab.unplug(CONSOLE_ID);
    const r = await checkReport(lab, 'console-out', 90_000);
    t.diagnostic(`sp-console: ${deviceOf(r, 'sp', 'sp-console').reason}; the check took ${seconds(r.ms)} under TCG`);
    assert.equal(r.code, 1);
    assert.equal(r.healthy, false);
    assert.equal(slotOf(r, 'sp').healthy, false);
    assert.equal(slotOf(r, 'rot').healthy, true, checkSummary(r));
    const tty = deviceOf(r, 'sp', 'sp-console');
    assert.equal(tty.ok, false);
    assert.ok(tty.reason.includes(CONSOLE_ID_TEXT), `reason does not name ${CONSOLE_ID_TEXT}: ${tty.reason}`);
    assert.equal(deviceOf(r, 'sp', 'sp-probe').ok, true, 'the SP probe stays present');
  });

  it('the guest program ends with exit 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await waitForPhase(lab, 'done', 30_000);
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, lab.explain('the guest program did not exit 0'));
  });
});
