// Runs INSIDE the QEMU USB lab guest for bench/hotplug.ts, with the host's
// node and tsx: the built `labslot agent` (health interval 60 s) on the lab of
// test/helpers/usb-cli-lab.ts, and for each cycle the time from the console
// adapter leaving the kernel to GET /v1/slots/sp answering 'unhealthy', and
// from its return to 'healthy'. Prints one JSON line per step:
//   ready              every slot healthy; the host unplugs the console next
//   cycle-N-detached   ms, the trigger of the check that found it gone, ms to the agent's log line
//   cycle-N-attached   the same after the host's replug
//   stopped            the agent's exit after SIGTERM
//   error              see runGuestProgram (the agent's stderr and log tail included)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SlotView } from '../test/helpers/api-types.js';
import { eventually } from '../test/helpers/eventually.js';
import { GuestAgent } from '../test/helpers/guest-agent.js';
import { present, sysfsName, ttyOf, ttyReady } from '../test/helpers/guest-usb-ids.js';
import { emit, runGuestProgram, SYSFS_USB, type GuestSteps } from '../test/helpers/guest-util.js';
import type { CliLabPlan } from '../test/helpers/usb-cli-lab.js';

export interface HotplugGuestPlan extends CliLabPlan {
  cycles: number;
  /** How often the API is asked while waiting for a change. */
  pollMs: number;
}

/** From the agent's start to every slot healthy (23-36 s seen under TCG on a loaded host). */
const AGENT_START_MS = 180_000;
/** A wait for the host's next QMP command. */
const HOST_STEP_MS = 120_000;
/**
 * A wait for the API to show a change. Two intervals: the slowest path back
 * (the next interval check) fits, so a cycle that misses the hotplug
 * re-check is measured, not lost; its trigger says which it was.
 */
const changeMs = (plan: HotplugGuestPlan): number => 2 * plan.intervalMs + 10_000;

/** When the agent's log recorded the console's change to `to`, in ms after `sinceEpoch` (wall clock), or null. */
function loggedMs(agent: GuestAgent, to: string, sinceEpoch: number): number | null {
  for (const e of agent.logEntries()) {
    if (
      e['msg'] !== 'device health changed' ||
      e['device'] !== 'sp-console' ||
      e['to'] !== to ||
      typeof e['time'] !== 'string'
    )
      continue;
    const at = Date.parse(e['time']);
    // Log times are whole milliseconds: an entry up to 1 ms "before" the moment is this one.
    if (at >= sinceEpoch - 1) return at - sinceEpoch;
  }
  return null;
}

/** Polls GET /v1/slots/sp until its health is `health`; when, and the console's last check's trigger. */
async function waitSlot(
  agent: GuestAgent,
  plan: HotplugGuestPlan,
  health: string,
): Promise<{ at: number; trigger: string | null; gets: number }> {
  let gets = 0;
  const at = await eventually(
    async () => {
      gets += 1;
      const view: SlotView = await agent.slot('sp');
      return view.health === health
        ? {
            at: performance.now(),
            trigger: view.devices.find((d) => d.name === 'sp-console')?.history[0]?.trigger ?? null,
          }
        : false;
    },
    { timeoutMs: changeMs(plan), intervalMs: plan.pollMs, message: `GET /v1/slots/sp: ${health}` },
  );
  return { ...at, gets };
}

async function main(steps: GuestSteps): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '') as HotplugGuestPlan;
  steps.step('every device in sysfs');
  await eventually(() => [plan.console, plan.sp, plan.rot].every((d) => present(d)) && ttyReady(plan.console.serial), {
    timeoutMs: 60_000,
    message: 'every device in sysfs, the console with its tty',
  });
  // The console comes back on the same xHCI port, so under the same name.
  const consoleDir = join(SYSFS_USB, sysfsName(plan.console) ?? '?');

  steps.step('labslot agent: from its start to every slot healthy');
  const agent = GuestAgent.start(plan, 'info');
  steps.onFailure(() => agent.describe());
  try {
    const started = performance.now();
    await eventually(
      async () => {
        const slots = await agent.slots();
        return slots !== undefined && slots.length > 0 && slots.every((s) => s.health === 'healthy');
      },
      { timeoutMs: AGENT_START_MS, intervalMs: 100, message: 'every slot healthy in GET /v1/slots' },
    );
    emit({ phase: 'ready', ms: Math.round(performance.now() - started) });

    for (let cycle = 0; cycle < plan.cycles; cycle += 1) {
      // The moment of the unplug: the tty or the USB device leaving the kernel, whichever is first (the tty,
      // by about 15 ms). Two stat calls every 2 ms, so the polling takes little from the agent's one vCPU.
      steps.step(`cycle ${cycle}: waiting for the host's unplug`);
      const tty = ttyOf(plan.console.serial) ?? '?';
      const goneAt = await eventually(() => (existsSync(consoleDir) && existsSync(tty) ? false : performance.now()), {
        timeoutMs: HOST_STEP_MS,
        intervalMs: 2,
        message: 'the console to leave the kernel',
      });
      const goneEpoch = Date.now();
      steps.step(`cycle ${cycle}: waiting for 'unhealthy'`);
      const out = await waitSlot(agent, plan, 'unhealthy');
      emit({
        phase: `cycle-${cycle}-detached`,
        ms: Math.round(out.at - goneAt),
        trigger: out.trigger,
        gets: out.gets,
        loggedMs: loggedMs(agent, 'unhealthy', goneEpoch),
      });

      // The moment of the replug: the USB device back in sysfs (enumerated; its tty follows).
      steps.step(`cycle ${cycle}: waiting for the host's replug`);
      const backAt = await eventually(() => (existsSync(consoleDir) ? performance.now() : false), {
        timeoutMs: HOST_STEP_MS,
        intervalMs: 2,
        message: 'the console back in sysfs',
      });
      const backEpoch = Date.now();
      steps.step(`cycle ${cycle}: waiting for 'healthy'`);
      const ttyAt = await eventually(() => (ttyReady(plan.console.serial) ? performance.now() : false), {
        timeoutMs: HOST_STEP_MS,
        intervalMs: 20,
        message: 'the console tty back',
      });
      const back = await waitSlot(agent, plan, 'healthy');
      emit({
        phase: `cycle-${cycle}-attached`,
        ms: Math.round(back.at - backAt),
        ttyMs: Math.round(ttyAt - backAt),
        trigger: back.trigger,
        gets: back.gets,
        loggedMs: loggedMs(agent, 'healthy', backEpoch),
      });
    }

    steps.step('labslot agent: SIGTERM');
    const stopped = await agent.stop(60_000);
    emit({
      phase: 'stopped',
      ...(stopped ?? { code: null, signal: 'still running 60 s after SIGTERM' }),
      stderr: agent.stderr(),
    });
  } finally {
    agent.kill();
  }
}

// The host loads this file only to fill tsx's cache for the guest (WARM_ONLY_ENV in qemu-usb-lab.ts).
if (process.env['LABSLOT_USB_LAB_WARM_ONLY'] !== '1') runGuestProgram(main);
