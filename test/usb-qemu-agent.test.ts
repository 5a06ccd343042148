// The built `labslot agent` on a real (emulated) USB bus (DESIGN §6; the lab
// is usb-cli-lab.ts: a QEMU guest with an SP probe, an RoT probe and an FTDI
// console). With a 60 s health interval, the console's unplug over QMP must
// take slot sp out of rotation through the agent's hotplug re-check, with a
// reason naming the adapter, while slot rot stays healthy; SIGTERM then stops
// the agent with exit 0. How fast the agent reacts is not judged here: a
// timing inside TCG on a shared machine is noise, not a verdict; it is
// measured over many cycles by bench/hotplug.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scriptCleanup } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { USB_LAB_PREREQUISITES } from './helpers/qemu-usb-lab.js';
import type { CliGuestPlan } from './helpers/usb-cli-guest.js';
import { CONSOLE_ID, CONSOLE_ID_TEXT, startCliLab, waitForPhase } from './helpers/usb-cli-lab.js';
import { seconds } from './helpers/usb-cli-suite.js';

const GUEST_SCRIPT = fileURLToPath(new URL('helpers/usb-cli-guest.ts', import.meta.url));
/** How often the guest asks the agent's API once the console is gone. */
const POLL_MS = 50;

interface Detached {
  detachedMs: number;
  getMs: number[];
  hotplugLogMs: number | null;
  transitionLogMs: number | null;
  devices: { name: string; health: string; reason: string | null; trigger: string | null }[] | undefined;
  rot: string;
}

interface Stopped {
  code: number | null;
  signal: string | null;
  ms: number;
  stderr: string;
  logTail: string;
}

describe('labslot agent in a QEMU guest with probes and a console', () => {
  const cleanup = scriptCleanup();
  after(() => cleanup.runAll());

  it('interval 60 s: the console unplug makes slot sp unhealthy through a hotplug re-check, naming the adapter; slot rot stays healthy; SIGTERM exits 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const extra: Pick<CliGuestPlan, 'mode' | 'pollMs'> = { mode: 'agent', pollMs: POLL_MS };
    // Under the test runner's 120 s per file (scripts/run-tests.mjs), so no QEMU outlives its test process.
    const { lab } = await startCliLab(cleanup, { script: GUEST_SCRIPT, extra, timeoutMs: 115_000 });
    const ready = await waitForPhase<{ ms: number }>(lab, 'agent-ready', 110_000);
    t.diagnostic(
      `guest program started ${seconds(lab.timings.programMs)} after QEMU; the agent showed every slot healthy ${seconds(ready.ms)} after its start`,
    );

    const unplugged = performance.now();
    await lab.unplug(CONSOLE_ID);
    const d = await waitForPhase<Detached>(lab, 'agent-detached', 60_000);
    // For information only: the figures that mean something come from bench/hotplug.ts, over many cycles.
    t.diagnostic(
      `console unplugged -> GET /v1/slots/sp answered 'unhealthy' ${d.detachedMs} ms later in the guest (TCG), from its tty or USB device ` +
        `leaving the kernel, polled every ${POLL_MS} ms (${d.getMs.length} GETs); the agent's log: hotplug re-check at ` +
        `+${d.hotplugLogMs ?? '?'} ms, 'unhealthy' recorded at +${d.transitionLogMs ?? '?'} ms; ${Math.round(performance.now() - unplugged)} ms from QMP device_del to the host reading the report`,
    );
    const consoleView = d.devices?.find((x) => x.name === 'sp-console');
    t.diagnostic(`sp-console: ${consoleView?.reason ?? '?'}`);
    assert.equal(consoleView?.health, 'unhealthy');
    // The hotplug event, not the 60 s interval, made it unhealthy: the check result records its trigger.
    // (The guest also waits no longer than half an interval for 'unhealthy'; how soon it came is for bench/hotplug.ts.)
    assert.equal(
      consoleView.trigger,
      'hotplug',
      'the check that found the console gone was not triggered by the hotplug event',
    );
    assert.ok(
      consoleView.reason?.includes(CONSOLE_ID_TEXT),
      `reason does not name ${CONSOLE_ID_TEXT}: ${consoleView.reason ?? ''}`,
    );
    assert.equal(d.devices?.find((x) => x.name === 'sp-probe')?.health, 'healthy', 'the SP probe stays healthy');
    assert.equal(d.rot, 'healthy', 'slot rot stays healthy');

    const stopped = await waitForPhase<Stopped>(lab, 'agent-stopped', 60_000);
    t.diagnostic(`agent stopped ${stopped.ms} ms after SIGTERM`);
    assert.equal(
      stopped.code,
      0,
      `agent exit ${stopped.code ?? stopped.signal ?? '?'}:\n${stopped.stderr}\n${stopped.logTail}`,
    );
    assert.equal(stopped.stderr, '');
    await waitForPhase(lab, 'done', 30_000);
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, lab.explain('the guest program did not exit 0'));
  });
});
