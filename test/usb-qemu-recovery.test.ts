// Recovery before quarantine (DESIGN §9) on a real (emulated) USB bus: the
// built `labslot agent` in the QEMU USB lab guest (usb-cli-lab.ts; the guest's
// side is helpers/recovery-guest.ts, which says which failure a rebind
// repairs). The SP probe's VCOM loses its driver while the probe stays on the
// bus: the agent's usb-reset of the probe does not bring it back, its
// usb-rebind does, and slot sp is back with no hold. The RoT
// gadget is removed: its usb-reset and usb-rebind find nothing to act on, and
// after two rounds slot rot gets a system hold listing them. Before that, the
// usb kind's own usb-reset of the healthy RoT probe. One guest for the file;
// each test waits for its part of the guest's report.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EventView, HoldView } from './helpers/api-types.js';
import { scriptCleanup } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { USB_LAB_PREREQUISITES } from './helpers/qemu-usb-lab.js';
import { ROT, SP, startCliLab, waitForPhase, type CliLab } from './helpers/usb-cli-lab.js';
import type { CliGuestPlan } from './helpers/usb-cli-guest.js';
import { seconds } from './helpers/usb-cli-suite.js';

const GUEST_SCRIPT = fileURLToPath(new URL('helpers/usb-cli-guest.ts', import.meta.url));

interface SlotSummary {
  health: string;
  usage: string;
  hold: HoldView | null;
  devices: { name: string; health: string; reason: string | null }[];
}

interface Outcome {
  sp: SlotSummary;
  rot: SlotSummary;
  vcom: string | null;
  spEvents: EventView[];
  rotEvents: EventView[];
}

const steps = (events: EventView[]): { step: unknown; ok: unknown; detail: unknown; recovered: unknown }[] =>
  events
    .filter((e) => e.type === 'recovery.step')
    .map((e) => ({
      step: e.data?.['step'],
      ok: e.data?.['ok'],
      detail: e.data?.['detail'],
      recovered: e.data?.['recovered'],
    }));

describe('recovery in a QEMU guest: a probe rebound, a removed probe held', () => {
  const cleanup = scriptCleanup();
  after(() => cleanup.runAll());
  let started: Promise<CliLab> | undefined;
  const extra: Pick<CliGuestPlan, 'mode'> = { mode: 'recovery' };
  // The guest outlives one test (each has 120 s): its own hard timeout covers the whole file.
  const guest = (): Promise<CliLab> =>
    (started ??= startCliLab(cleanup, { script: GUEST_SCRIPT, extra, timeoutMs: 240_000 }));
  let outcome: Promise<Outcome> | undefined;
  const outcomeOf = async (): Promise<Outcome> => {
    const { lab } = await guest();
    return (outcome ??= waitForPhase<Outcome>(lab, 'outcome', 115_000));
  };

  it('usb-reset of a healthy probe, by the usb kind: ok, naming it and its place, and the probe is still there', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const r = await waitForPhase<{
      attempt: { ok: boolean; detail: string };
      before: string;
      after: string;
      present: boolean;
    }>(lab, 'reset', 110_000);
    t.diagnostic(`guest program ${seconds(lab.timings.programMs)} after QEMU's start; reset: ${r.attempt.detail}`);
    assert.deepEqual(r.attempt, { ok: true, detail: `reset 1fc9:0143 ${ROT.serial} at ${r.before}` });
    assert.equal(r.present, true);
    assert.equal(r.after, r.before, 'the probe is where it was');
  });

  it('a probe whose VCOM lost its driver: a reset does not bring it back, a rebind by the agent does; slot sp is back with no hold, events show usb-rebind ok and recovery.succeeded', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    const ready = await waitForPhase<{ vcom: string | null }>(lab, 'agent-ready', 110_000);
    assert.ok(ready.vcom, 'the SP probe has its VCOM tty before the breakage');
    const broken = await waitForPhase<{ sp: string }>(lab, 'broken', 30_000);
    const o = await outcomeOf();
    t.diagnostic(`sp: ${JSON.stringify(steps(o.spEvents))}`);
    assert.equal(o.sp.health, 'healthy');
    assert.equal(o.sp.hold, null, 'no hold on slot sp');
    assert.equal(o.sp.usage, 'idle');
    assert.ok(o.vcom, 'the VCOM has a tty again');
    // The reset first: done, and not enough (an interface without a driver stays so); the rebind repairs it.
    assert.deepEqual(steps(o.spEvents), [
      {
        step: 'usb-reset',
        ok: true,
        detail: `sp-vcom: reset 1fc9:0143 ${SP.serial} at ${broken.sp}`,
        recovered: false,
      },
      {
        step: 'usb-rebind',
        ok: true,
        detail: `sp-vcom: rebound 1fc9:0143 ${SP.serial} at ${broken.sp}`,
        recovered: true,
      },
    ]);
    const succeeded = o.spEvents.filter((e) => e.type === 'recovery.succeeded');
    assert.equal(succeeded.length, 1);
    assert.equal(succeeded[0]?.data?.['step'], 'usb-rebind');
  });

  it('a removed probe is not recovered: after two rounds of usb-reset and usb-rebind, a system hold listing them', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const o = await outcomeOf();
    t.diagnostic(`rot hold: ${o.rot.hold?.reason ?? 'none'}`);
    assert.equal(o.rot.hold?.source, 'system');
    const offBus = `1fc9:0143 ${ROT.serial} is not on the bus`;
    assert.deepEqual(
      steps(o.rotEvents).map((s) => [s.step, s.ok, s.recovered]),
      [
        ['usb-reset', false, false],
        ['usb-rebind', false, false],
        ['usb-reset', false, false],
        ['usb-rebind', false, false],
      ],
    );
    assert.ok(
      steps(o.rotEvents).every((s) => String(s.detail).includes(offBus)),
      JSON.stringify(steps(o.rotEvents)),
    );
    const reason = o.rot.hold.reason;
    for (const round of [1, 2])
      for (const step of ['usb-reset', 'usb-rebind'])
        assert.ok(
          reason.includes(`round ${round}: ${step} failed (rot-probe: ${offBus}`),
          `${round} ${step}: ${reason}`,
        );
    assert.equal(o.rotEvents.filter((e) => e.type === 'recovery.exhausted').length, 1);
  });

  it('the guest program ends with exit 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const { lab } = await guest();
    await waitForPhase(lab, 'done', 30_000);
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, lab.explain('the guest program did not exit 0'));
  });
});
