// Runs INSIDE the QEMU USB lab guest (usb-cli-lab.ts), mode "discover" of
// usb-cli-guest.ts (usb-qemu-discover.test.ts): `labslot discover` on a real
// (emulated) bus of two MCU-Link gadgets and an FTDI usb-serial adapter, with
// a config that names only the SP probe (and a probe that is not plugged in),
// then its --toml stanzas appended to that config with a slot that lists them,
// through `labslot config validate` and `labslot check`. One JSON line per run
// (phase "discover", its step), which the host test judges:
//   json        `labslot discover -c CONFIG --json`
//   table       `labslot discover -c CONFIG`
//   toml        `labslot discover -c CONFIG --toml`
//   validate    `labslot config validate -c CONFIG+STANZAS`
//   check       `labslot check -c CONFIG+STANZAS --json`
//   no-config   `labslot discover --json` with no $LABSLOT_CONFIG and no /etc/labslot/slots.toml
import { mkdirSync, writeFileSync } from 'node:fs';
import { labslot, type Exit } from './guest-labslot.js';
import { emit, type GuestSteps } from './guest-util.js';
import type { CliLabPlan } from './usb-cli-lab.js';

/** The guest's root is the host's, read-only: configs go on its tmpfs. */
const DIR = '/run/labslot/discover';
/** The probe the config names that is not plugged in. */
export const SPARE_SERIAL = 'NOT-PLUGGED-IN';
/** The slot the test adds for the stanzas. */
export const DISCOVERED_SLOT = 'discovered';
/** One labslot run under TCG: `labslot check` took 11-25 s on a loaded two-core host; discover reads sysfs only. */
const RUN_MS = 60_000;

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** Only the SP probe of the lab is configured; the RoT probe and the console are for discover to find. */
function config(plan: CliLabPlan): string {
  return `[agent]
state_dir = "${DIR}/state"
[health]
min_free_disk = "1MiB"
min_available_memory = "16MiB"

[devices.sp-probe]
kind = "usb"
vid = ${hex(plan.sp.vid)}
pid = ${hex(plan.sp.pid)}
serial = "${plan.sp.serial}"
role = "sp-probe"

[devices.spare-probe]
kind = "usb"
vid = ${hex(plan.sp.vid)}
pid = ${hex(plan.sp.pid)}
serial = "${SPARE_SERIAL}"

[slots.sp]
target = "gimlet-sp"
devices = ["sp-probe"]
`;
}

/** The device names of the stanzas that are not commented out. */
export function stanzaNames(toml: string): string[] {
  return [...toml.matchAll(/^\[devices\.([a-z0-9-]+)\]$/gm)].map((m) => m[1] ?? '');
}

function report(step: string, exit: Exit): void {
  emit({ phase: 'discover', step, ...exit });
}

export async function discoverSteps(plan: CliLabPlan, steps: GuestSteps): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const base = `${DIR}/slots.toml`;
  writeFileSync(base, config(plan));
  for (const [step, args] of [
    ['json', ['--json']],
    ['table', []],
  ] as const) {
    steps.step(`labslot discover (${step})`);
    report(step, await labslot(['discover', '-c', base, ...args], RUN_MS));
  }
  steps.step('labslot discover --toml');
  const toml = await labslot(['discover', '-c', base, '--toml'], RUN_MS);
  report('toml', toml);

  // As an operator would: the stanzas appended unchanged, and a slot that lists them so `check` checks them.
  const names = stanzaNames(toml.stdout).map((n) => JSON.stringify(n));
  const appended = `${DIR}/appended.toml`;
  writeFileSync(
    appended,
    `${config(plan)}\n${toml.stdout}\n[slots.${DISCOVERED_SLOT}]\ntarget = "new"\ndevices = [${names.join(', ')}]\n`,
  );
  steps.step('labslot config validate (the stanzas appended)');
  report('validate', await labslot(['config', 'validate', '-c', appended], RUN_MS));
  steps.step('labslot check (the stanzas appended)');
  report('check', await labslot(['check', '-c', appended, '--json'], RUN_MS));

  steps.step('labslot discover without a config');
  report('no-config', await labslot(['discover', '--json'], RUN_MS, { LABSLOT_CONFIG: '' }));
}
