// Runs INSIDE the QEMU USB lab guest (usb-cli-lab.ts), mode "recovery" of
// usb-cli-guest.ts (usb-qemu-recovery.test.ts): recovery before quarantine
// (DESIGN §9) on a real (emulated) USB bus, by the built `labslot agent`.
//   reset        the usb kind's own usb-reset of the healthy RoT probe, called here: its
//                answer, and where the probe is before and after
//   agent-ready  the agent (health every second, [recovery] max_attempts = 2) shows every slot healthy
//   broken       the SP probe's VCOM has lost its driver, and the RoT gadget is removed (see below)
//   outcome      once slot sp is back and slot rot is held: both slots and their recovery events
//
// Which failure a rebind repairs. Unbinding a gadget from its UDC, or
// unlinking its function from its configuration (which unbinds it too),
// disconnects it: the device leaves the host's bus, and nothing done on the
// host side brings it back (that is the RoT's case: held, as it should be).
// What a rebind does repair is a device still enumerated whose drivers are
// gone: here the SP probe's ACM function (its VCOM) is unbound from cdc_acm on
// the host side, as when a driver gives up on an interface that misbehaved.
// The probe stays on the bus, its VCOM has no tty, and a port reset leaves an
// interface without a driver as it is (the VCOM's steps are a reset, then a
// rebind: the test sees the reset done and the VCOM still without a tty);
// unbinding the device from "usb" and binding it again makes new interfaces,
// and cdc_acm probes them.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceKinds } from '../../src/devices/kinds/registry.js';
import { listUsbDevices } from '../../src/devices/usb-bus.js';
import type { EventView, SlotView } from './api-types.js';
import { eventually } from './eventually.js';
import { GuestAgent, slotSummary } from './guest-agent.js';
import { gone, present, sysfsName, type UsbId } from './guest-usb-ids.js';
import { emit, messageOf, SYSFS_USB, type GuestSteps } from './guest-util.js';
import type { CliLabPlan } from './usb-cli-lab.js';

/** `labslot agent` from its start to every slot healthy (23-36 s seen under TCG for the CLI lab). */
const AGENT_START_MS = 80_000;
/** The kernel making or removing a device or tty. */
const KERNEL_MS = 20_000;
/** From the breakage to slot sp back and slot rot held: detection, two rounds of two steps, re-checks. */
const OUTCOME_MS = 80_000;

function config(plan: CliLabPlan): string {
  const usb = (id: UsbId): string =>
    `vid = 0x${id.vid.toString(16)}\npid = 0x${id.pid.toString(16)}\nserial = "${id.serial}"`;
  return `[agent]
state_dir = "${plan.stateDir}"
[health]
interval = "1s"
failure_threshold = 1
success_threshold = 1
min_free_disk = "1MiB"
min_available_memory = "16MiB"
[recovery]
max_attempts = 2
boot_wait = "1s"
step_timeout = "15s"

[devices.sp-probe]
kind = "usb"
${usb(plan.sp)}
role = "sp-probe"

# The SP probe's own VCOM (its ACM function), by the probe's identity, as an MCU-Link's is configured.
[devices.sp-vcom]
kind = "serial"
usb = { vid = 0x${plan.sp.vid.toString(16)}, pid = 0x${plan.sp.pid.toString(16)}, serial = "${plan.sp.serial}" }
baud = 115200
recover = ["usb-reset", "usb-rebind"]

[devices.rot-probe]
kind = "usb"
${usb(plan.rot)}
role = "rot-probe"
recover = ["usb-reset", "usb-rebind"]

[slots.sp]
target = "gimlet-sp"
devices = ["sp-probe", "sp-vcom"]

[slots.rot]
target = "gimlet-rot"
devices = ["rot-probe"]
`;
}

/** The ttyACM of the device's ACM control interface (cdc_acm puts it in INTERFACE/tty/), if it has one. */
function acmTty(id: UsbId): string | undefined {
  const name = sysfsName(id);
  if (name === undefined) return undefined;
  const dir = join(SYSFS_USB, name, `${name}:1.0`, 'tty');
  try {
    return readdirSync(dir).find((t) => /^ttyACM\d+$/.test(t) && existsSync(`/dev/${t}`));
  } catch {
    return undefined;
  }
}

async function recoveryEvents(agent: GuestAgent, slot: string): Promise<EventView[]> {
  const page = (await agent.getJson(`/v1/events?slot=${slot}&limit=1000`)) as { events: EventView[] };
  return page.events.filter((e) => e.type.startsWith('recovery.'));
}

export async function recoverySteps(plan: CliLabPlan, steps: GuestSteps): Promise<void> {
  steps.step('usb-reset of the healthy RoT probe, by the usb kind');
  const rotSpec = { kind: 'usb', ...plan.rot, role: 'rot-probe', archive: undefined } as const;
  const before = sysfsName(plan.rot);
  const attempt = await deviceKinds.usb.recover(rotSpec, 'usb-reset', {
    signal: AbortSignal.timeout(KERNEL_MS),
    usb: () => listUsbDevices(),
  });
  // A reset ends with the device answering at its address again; give the kernel a moment to settle.
  const stillThere = await eventually(() => present(plan.rot), {
    timeoutMs: KERNEL_MS,
    message: 'the RoT probe after its reset',
  });
  emit({ phase: 'reset', attempt, before, after: sysfsName(plan.rot), present: stillThere });

  steps.step('labslot agent with recovery: from its start to every slot healthy');
  const configPath = '/run/labslot/recovery.toml';
  writeFileSync(configPath, config(plan));
  const agent = GuestAgent.start({ ...plan, config: configPath });
  steps.onFailure(() => agent.describe());
  try {
    await agent.allHealthy(AGENT_START_MS, 200);
    emit({ phase: 'agent-ready', vcom: acmTty(plan.sp) ?? null });

    steps.step("breaking both: the SP probe's VCOM driver unbound, the RoT gadget removed");
    const sp = sysfsName(plan.sp);
    if (sp === undefined) throw new Error('the SP probe is not on the bus');
    writeFileSync('/sys/bus/usb/drivers/cdc_acm/unbind', `${sp}:1.0`);
    writeFileSync(`/sys/kernel/config/usb_gadget/${plan.rot.gadget}/UDC`, '\n');
    await eventually(() => acmTty(plan.sp) === undefined && present(plan.sp) && gone(plan.rot), {
      timeoutMs: KERNEL_MS,
      message: "the SP's VCOM without a tty (the probe still on the bus), the RoT gadget off the bus",
    });
    emit({ phase: 'broken', sp });

    steps.step('waiting for slot sp back in rotation and slot rot held');
    let views: SlotView[] = [];
    await eventually(
      async () => {
        views = await Promise.all([agent.slot('sp'), agent.slot('rot')]);
        const [spView, rotView] = views;
        const spEvents = await recoveryEvents(agent, 'sp');
        return (
          spView?.health === 'healthy' &&
          spEvents.some((e) => e.type === 'recovery.succeeded') &&
          rotView?.hold !== null &&
          rotView?.hold !== undefined
        );
      },
      { timeoutMs: OUTCOME_MS, intervalMs: 250, message: 'slot sp recovered and slot rot held' },
    ).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}: ${JSON.stringify(views.map(slotSummary))}`, { cause: error });
    });
    const [spView, rotView] = await Promise.all([agent.slot('sp'), agent.slot('rot')]);
    emit({
      phase: 'outcome',
      sp: slotSummary(spView),
      rot: slotSummary(rotView),
      vcom: acmTty(plan.sp) ?? null,
      spEvents: await recoveryEvents(agent, 'sp'),
      rotEvents: await recoveryEvents(agent, 'rot'),
    });
  } finally {
    agent.kill();
  }
}
