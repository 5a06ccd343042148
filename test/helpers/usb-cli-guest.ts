// Runs INSIDE the QEMU USB lab guest (usb-cli-lab.ts), with the host's node
// and tsx: the built `labslot` command line, run the way an operator runs it,
// against two probe gadgets and a usb-serial console. It imports nothing of
// labslot: what it knows of the bus it reads from sysfs. Prints one JSON line
// per step on stdout; the host test reads them as they come. Four modes, one
// per test file, each in its own guest: under TCG on a loaded two-core machine
// one `labslot check` took up to 25 s, and all of it in one guest did not fit
// in the test runner's 120 s per file.
// mode "unplug" (usb-qemu-cli.test.ts):
//   check all          `labslot check --json`, everything plugged in
//   check console-out  after the host's QMP device_del of the console (seen leaving sysfs here)
// mode "unbind" (usb-qemu-cli-unbind.test.ts):
//   devices-ready      every device is there; the host unplugs the console next
//   console-gone       seen the host's QMP device_del of the console; the host replugs it next
//   check rot-out      the console is back; the RoT gadget is unbound here
//   check all-back     the RoT gadget is bound again
// mode "agent" (usb-qemu-agent.test.ts):
//   agent-ready        `labslot agent` (interval 60 s) shows every slot healthy over HTTP
//   agent-detached     after the host's device_del of the console: what GET /v1/slots/sp
//                      answers once it says 'unhealthy' (and, for information, how long that took)
//   agent-stopped      the agent's exit status after SIGTERM
// mode "discover" (usb-qemu-discover.test.ts): see discover-guest.ts
// mode "recovery" (usb-qemu-recovery.test.ts): see recovery-guest.ts
// either:
//   error              the program failed or ran out of time: the step, the error, and the
//                      agent's stderr and log tail once it has been started
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SlotView } from './api-types.js';
import { eventually } from './eventually.js';
import { discoverSteps } from './discover-guest.js';
import { recoverySteps } from './recovery-guest.js';
import { GuestAgent, slotSummary } from './guest-agent.js';
import { labslot } from './guest-labslot.js';
import { gone, present, sysfsName, ttyOf, ttyReady } from './guest-usb-ids.js';
import { emit, messageOf, runGuestProgram, SYSFS_USB, type GuestSteps } from './guest-util.js';
import type { CliLabPlan } from './usb-cli-lab.js';

export interface CliGuestPlan extends CliLabPlan {
  mode: 'unplug' | 'unbind' | 'agent' | 'discover' | 'recovery';
  /** Mode "agent": how often the agent's API is asked, once the console is gone. */
  pollMs?: number;
}

// Waits inside the guest are generous: under TCG on a loaded two-core machine
// one `labslot check` took 11-25 s and the agent 23-36 s to report every slot
// healthy. The guest's watchdog (qemu-usb-lab.ts) bounds the whole program
// anyway, and the program then reports the step it was at.
/** A wait for the host's next action, which may follow a `labslot check` of its own. */
const HOST_STEP_MS = 90_000;
/** One `labslot check` run, to the end. */
const CHECK_MS = 90_000;
/** The kernel binding or unbinding a gadget. */
const GADGET_MS = 30_000;
/** `labslot agent` from its start to every slot healthy over HTTP. */
const AGENT_START_MS = 90_000;
/** The agent's exit after SIGTERM. */
const AGENT_STOP_MS = 45_000;

const consoleReady = (plan: CliGuestPlan): boolean => ttyReady(plan.console.serial);

async function check(plan: CliGuestPlan, step: string): Promise<void> {
  const exit = await labslot(['check', '-c', plan.config, '--json'], CHECK_MS);
  let json: unknown = null;
  try {
    json = JSON.parse(exit.stdout);
  } catch {
    // Reported as stdout below.
  }
  emit({
    phase: 'check',
    step,
    code: exit.code,
    signal: exit.signal,
    ms: exit.ms,
    json,
    ...(json === null ? { stdout: exit.stdout } : {}),
    stderr: exit.stderr,
  });
}

async function agentPhase(plan: CliGuestPlan, steps: GuestSteps): Promise<void> {
  steps.step('labslot agent: from its start to every slot healthy in GET /v1/slots');
  const started = performance.now();
  // Debug: the log then timestamps the hotplug re-check as well as the health change.
  const agent = GuestAgent.start(plan, 'debug');
  steps.onFailure(() => agent.describe());
  try {
    await agent.allHealthy(AGENT_START_MS, 100);
    const consoleDir = join(SYSFS_USB, sysfsName(plan.console) ?? '?');
    const ttyPath = ttyOf(plan.console.serial) ?? '?';
    if (!existsSync(consoleDir) || !existsSync(ttyPath))
      throw new Error(`the console is not there before the unplug: ${consoleDir} ${ttyPath}`);
    emit({ phase: 'agent-ready', ms: Math.round(performance.now() - started) });

    // The host unplugs the console now. Its tty or its USB device leaving the kernel, whichever is first
    // (the tty, by about 15 ms), is the moment of the unplug: polled every 2 ms.
    steps.step('labslot agent: waiting for the host to unplug the console (QMP device_del)');
    const goneAt = await eventually(() => (existsSync(consoleDir) && existsSync(ttyPath) ? false : performance.now()), {
      timeoutMs: HOST_STEP_MS,
      intervalMs: 2,
      message: 'the console to leave sysfs',
    });
    const goneEpoch = Date.now();
    // A client polling the API. How long this takes is for bench/hotplug.ts to measure, not for
    // this test to judge (TCG on a shared machine); the bound is a behaviour bound: the next
    // interval check of the console is most of an interval away, so only the hotplug re-check can
    // make it unhealthy within half of one (the host test also asserts the result's trigger).
    steps.step('labslot agent: waiting for GET /v1/slots/sp to answer unhealthy after the unplug');
    const getMs: number[] = [];
    let view: SlotView | undefined;
    const unhealthyAt = await eventually(
      async () => {
        const sent = performance.now();
        view = await agent.slot('sp');
        getMs.push(Math.round(performance.now() - sent));
        return view.health === 'unhealthy' ? performance.now() : false;
      },
      { timeoutMs: plan.intervalMs / 2, intervalMs: plan.pollMs ?? 50, message: 'GET /v1/slots/sp: unhealthy' },
    ).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}: ${view === undefined ? 'no answer' : JSON.stringify(slotSummary(view))}`, {
        cause: error,
      });
    });
    const rot = (await agent.slot('rot')).health;
    // The agent's own timestamps (ms, wall clock): the hotplug re-check and the health change.
    const entries = agent.logEntries();
    const at = (match: (e: Record<string, unknown>) => boolean): number | null => {
      const time = (x: Record<string, unknown>): number =>
        typeof x['time'] === 'string' ? Date.parse(x['time']) : NaN;
      const e = entries.find((x) => match(x) && time(x) >= goneEpoch - 1_000);
      return e === undefined ? null : time(e) - goneEpoch;
    };
    emit({
      phase: 'agent-detached',
      detachedMs: Math.round(unhealthyAt - goneAt),
      getMs,
      hotplugLogMs: at((e) => e['msg'] === 'usb hotplug, re-checking'),
      transitionLogMs: at((e) => e['msg'] === 'device health changed' && e['to'] === 'unhealthy'),
      devices: view?.devices.map((d) => ({
        name: d.name,
        health: d.health,
        reason: d.last_check?.reason ?? null,
        trigger: d.history[0]?.trigger ?? null,
      })),
      rot,
    });

    steps.step('labslot agent: SIGTERM, waiting for its exit');
    const stopped = await agent.stop(AGENT_STOP_MS);
    emit({
      phase: 'agent-stopped',
      ...(stopped ?? { code: null, signal: `still running ${AGENT_STOP_MS} ms after SIGTERM`, ms: AGENT_STOP_MS }),
      stderr: agent.stderr(),
      logTail: agent.log().slice(-1_500),
    });
  } finally {
    agent.kill();
  }
}

/** Unplugs (udc '') or plugs in a configfs gadget by its UDC file. */
function bindGadget(gadget: { gadget: string; udc: string }, bound: boolean): void {
  writeFileSync(`/sys/kernel/config/usb_gadget/${gadget.gadget}/UDC`, bound ? `${gadget.udc}\n` : '\n');
}

/** mode "unplug": everything plugged in, then the console unplugged by the host. */
async function unplugChecks(plan: CliGuestPlan, steps: GuestSteps): Promise<void> {
  steps.step('labslot check (all)');
  await check(plan, 'all');
  steps.step('waiting for the host to unplug the console (QMP device_del)');
  await eventually(() => gone(plan.console), {
    timeoutMs: HOST_STEP_MS,
    message: 'the console to leave sysfs (QMP device_del)',
  });
  steps.step('labslot check (console-out)');
  await check(plan, 'console-out');
}

/** mode "unbind": the console unplugged and replugged by the host, then the RoT gadget unbound here and bound again. */
async function unbindChecks(plan: CliGuestPlan, steps: GuestSteps): Promise<void> {
  emit({ phase: 'devices-ready' });
  steps.step('waiting for the host to unplug the console (QMP device_del)');
  await eventually(() => gone(plan.console), {
    timeoutMs: HOST_STEP_MS,
    message: 'the console to leave sysfs (QMP device_del)',
  });
  emit({ phase: 'console-gone' });
  steps.step('waiting for the host to replug the console (QMP device_add)');
  await eventually(() => consoleReady(plan), {
    timeoutMs: HOST_STEP_MS,
    message: 'the console back, with its tty (QMP device_add)',
  });
  steps.step('unbinding the RoT gadget');
  bindGadget(plan.rot, false);
  await eventually(() => gone(plan.rot), { timeoutMs: GADGET_MS, message: 'the RoT gadget to leave sysfs' });
  steps.step('labslot check (rot-out)');
  await check(plan, 'rot-out');

  steps.step('binding the RoT gadget again');
  bindGadget(plan.rot, true);
  await eventually(() => present(plan.rot), { timeoutMs: GADGET_MS, message: 'the RoT gadget back in sysfs' });
  steps.step('labslot check (all-back)');
  await check(plan, 'all-back');
}

async function main(steps: GuestSteps): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '') as CliGuestPlan;
  const all = [plan.console, plan.sp, plan.rot];
  // Enumeration may still be going on when udev has settled.
  steps.step('every device in sysfs');
  await eventually(() => all.every((d) => present(d)) && consoleReady(plan), {
    timeoutMs: GADGET_MS,
    message: 'every device in sysfs, the console with its tty',
  });
  if (plan.mode === 'unplug') await unplugChecks(plan, steps);
  else if (plan.mode === 'unbind') await unbindChecks(plan, steps);
  else if (plan.mode === 'discover') await discoverSteps(plan, steps);
  else if (plan.mode === 'recovery') await recoverySteps(plan, steps);
  else await agentPhase(plan, steps);
}

// The host loads this file only to fill tsx's cache for the guest (WARM_ONLY_ENV in qemu-usb-lab.ts).
if (process.env['LABSLOT_USB_LAB_WARM_ONLY'] !== '1') runGuestProgram(main);
