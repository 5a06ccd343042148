// The lab host of the USB command-line tests (usb-qemu-cli.test.ts,
// usb-qemu-agent.test.ts) and of bench/hotplug.ts, on a real (emulated) USB
// bus (DESIGN §6): a QEMU guest with an SP probe and an RoT probe of one model
// (configfs gadgets, 1fc9:0143, told apart by serial) and an FTDI console
// (QEMU usb-serial) whose far end is a fake SP console served here, the
// slots.toml a lab host would have for them, and a guest program that is
// handed the plan as JSON.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckDeviceJson, CheckJson } from './api-types.js';
import type { Cleanup } from './cleanup.js';
import { serveFakeSpConsole } from './fake-sp-console.js';
import type { AgentPlan } from './guest-agent.js';
import type { UsbId } from './guest-usb-ids.js';
import { startUsbLab, type UsbLab } from './qemu-usb-lab.js';

// CI runs from another clone: the guest sees the host's root, so the same absolute paths work there.
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** QMP id of the console adapter, for unplug and replug. */
export const CONSOLE_ID = 'console';
const MCU_LINK = { vid: 0x1fc9, pid: 0x0143 };
export const SP = { ...MCU_LINK, serial: 'MKPNRQ1ZY3DVX', gadget: 'sp-probe', udc: 'dummy_udc.0' };
export const ROT = { ...MCU_LINK, serial: 'GHZ4GAXHQJ1W3', gadget: 'rot-probe', udc: 'dummy_udc.1' };
export const CONSOLE: UsbId = { vid: 0x0403, pid: 0x6001, serial: 'A10KZP4J' };
/** How a reason about the console adapter names it. */
export const CONSOLE_ID_TEXT = `0403:6001 serial ${CONSOLE.serial}`;
/** The agent's health interval: long, so that only a hotplug re-check can explain a change soon after an unplug. */
export const INTERVAL_S = 60;

/** A lab host's slots.toml; the state directory is on the guest's tmpfs (the host's root is read-only there). */
const CONFIG = `[agent]
state_dir = "/run/labslot/state"
[health]
# Only a hotplug re-check can explain a change within seconds.
interval = "${INTERVAL_S}s"
min_free_disk = "1MiB"
min_available_memory = "16MiB"

[devices.sp-probe]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "${SP.serial}"
role = "sp-probe"

[devices.sp-console]
kind = "serial"
usb = { vid = 0x0403, pid = 0x6001, serial = "${CONSOLE.serial}" }
baud = 115200
probe = { send = "\\r", expect = "hubris> ", timeout = "2s" }

[devices.rot-probe]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "${ROT.serial}"
role = "rot-probe"

[slots.sp]
target = "gimlet-sp"
devices = ["sp-probe", "sp-console"]

[slots.rot]
target = "gimlet-rot"
devices = ["rot-probe"]
`;

/** What every guest program of this lab is told: where labslot and its config are, and the devices. */
export interface CliLabPlan extends AgentPlan {
  /** The agent's health interval, in ms. */
  intervalMs: number;
  console: UsbId;
  sp: UsbId & { gadget: string; udc: string };
  rot: UsbId & { gadget: string; udc: string };
}

export interface CliLab {
  lab: UsbLab;
  /** How many prompts the fake console has sent. */
  prompts: () => number;
}

/**
 * Boots the lab's guest running `script` (a guest program written for
 * qemu-usb-lab.ts's tsx cache warming) with the base plan plus `extra`, as
 * JSON in its first argument. QEMU and the fake console end in `cleanup`.
 */
export async function startCliLab(
  cleanup: Cleanup,
  options: { script: string; extra: Record<string, unknown>; timeoutMs: number },
): Promise<CliLab> {
  const dir = mkdtempSync(join(tmpdir(), 'labslot-usb-cli-'));
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'slots.toml');
  writeFileSync(config, CONFIG);
  const socket = join(dir, 'console.sock');
  const fake = await serveFakeSpConsole(socket);
  cleanup.after(() => fake.close());
  const plan: CliLabPlan = {
    ...{ project: PROJECT_ROOT, config, stateDir: '/run/labslot/state', listen: '127.0.0.1:8421' },
    ...{ intervalMs: INTERVAL_S * 1_000, console: CONSOLE, sp: SP, rot: ROT },
  };
  const lab = await startUsbLab(cleanup, {
    serials: [{ id: CONSOLE_ID, serial: CONSOLE.serial, port: 1, socket }],
    gadgets: [SP, ROT].map((g) => ({
      name: g.gadget,
      vid: g.vid,
      pid: g.pid,
      serial: g.serial,
      manufacturer: 'NXP',
      product: 'MCU-Link',
    })),
    program: {
      script: options.script,
      args: [JSON.stringify({ ...plan, ...options.extra })],
      cwd: PROJECT_ROOT,
      warmTsxCache: true,
    },
    timeoutMs: options.timeoutMs,
  });
  return { lab, prompts: fake.prompts };
}

/** The next JSON report matching `phase` (a regex source after `{"phase":"`), or the guest's error report as a failure with everything the host has. */
export async function waitForPhase<T>(lab: UsbLab, phase: string, timeoutMs: number): Promise<T> {
  const line = await lab.waitForLine(new RegExp(`^\\{"phase":"(${phase}|error)"`), timeoutMs);
  const report = JSON.parse(line) as T & { phase: string; step?: string; error?: string };
  // The error carries the agent's stderr and log tail once it has started; explain() adds the rest.
  if (report.phase === 'error')
    throw new Error(lab.explain(`the guest program failed during '${report.step ?? '?'}': ${report.error ?? ''}`));
  return report;
}

interface CheckStep {
  phase: 'check';
  step: string;
  code: number | null;
  ms: number;
  json: CheckJson | null;
  stdout?: string;
  stderr: string;
}

/** The guest's report of one `labslot check --json` run (usb-cli-guest.ts): its JSON, exit code and duration; nothing on stderr. */
export async function checkReport(
  lab: UsbLab,
  step: string,
  timeoutMs: number,
): Promise<CheckJson & { code: number | null; ms: number }> {
  const r = await waitForPhase<CheckStep>(lab, `check","step":"${step}`, timeoutMs);
  assert.ok(r.json, `labslot check printed no JSON (exit ${r.code ?? 'none'}):\n${r.stdout ?? ''}\n${r.stderr}`);
  assert.equal(r.stderr, '', 'labslot check wrote to stderr');
  return { ...r.json, code: r.code, ms: r.ms };
}

export function slotOf(r: CheckJson, name: string): CheckJson['slots'][number] {
  const found = r.slots.find((s) => s.name === name);
  assert.ok(found, `no slot ${name} in ${JSON.stringify(r)}`);
  return found;
}

export function deviceOf(r: CheckJson, slotName: string, name: string): CheckDeviceJson {
  const found = slotOf(r, slotName).devices.find((d) => d.name === name);
  assert.ok(found, `no device ${name} in slot ${slotName}`);
  return found;
}

/** Every device's reason, for assertion messages. */
export const checkSummary = (r: CheckJson): string =>
  r.slots.flatMap((s) => s.devices.map((d) => `${s.name}/${d.name}: ${d.reason}`)).join('; ');
