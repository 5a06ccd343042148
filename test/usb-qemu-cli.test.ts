// The built `labslot` command line on a real (emulated) USB bus, as an
// operator runs it on a lab host (DESIGN §6): a QEMU guest with an SP probe
// and an RoT probe of one model (configfs gadgets, 1fc9:0143, told apart by
// serial) and an FTDI console (QEMU usb-serial) whose far end is a fake SP
// console served here. `labslot check --json` in the guest before and after
// the console is unplugged over QMP and the RoT probe is unbound; then
// `labslot agent` in the guest must take the slot out of rotation within 1 s
// of the console's unplug. One guest serves every test, step by step.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scriptCleanup } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { startUsbLab, USB_LAB_PREREQUISITES, type UsbLab } from './helpers/qemu-usb-lab.js';
import type { CliGuestPlan } from './helpers/usb-cli-guest.js';

// CI runs from another clone: the guest sees the host's root, so the same absolute paths work there.
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const GUEST_SCRIPT = fileURLToPath(new URL('helpers/usb-cli-guest.ts', import.meta.url));
const CONSOLE_ID = 'console';
const MCU_LINK = { vid: 0x1fc9, pid: 0x0143 };
const SP = { ...MCU_LINK, serial: 'MKPNRQ1ZY3DVX', gadget: 'sp-probe', udc: 'dummy_udc.0' };
const ROT = { ...MCU_LINK, serial: 'GHZ4GAXHQJ1W3', gadget: 'rot-probe', udc: 'dummy_udc.1' };
const CONSOLE = { vid: 0x0403, pid: 0x6001, serial: 'A10KZP4J' };
const CONSOLE_ID_TEXT = `0403:6001 serial ${CONSOLE.serial}`;
/** How often the guest asks the agent's API once the console is gone. */
const POLL_MS = 50;

/** A lab host's slots.toml; the state directory is on the guest's tmpfs (the host's root is read-only there). */
const CONFIG = `[agent]
state_dir = "/run/labslot/state"
[health]
# Only a hotplug re-check can explain a change within seconds.
interval = "60s"
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

interface DeviceJson {
  name: string;
  kind: string;
  ok: boolean | null;
  reason: string;
  detail: string | null;
}

/** What `labslot check --json` prints. */
interface CheckJson {
  healthy: boolean;
  host: { ok: boolean; reason: string };
  slots: { name: string; healthy: boolean; devices: DeviceJson[] }[];
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

/** The fake SP console behind the FTDI adapter: a prompt for every line the guest sends. */
async function serveConsole(path: string): Promise<{ prompts: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let prompts = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // QEMU going away.
    socket.on('data', (chunk) => {
      if (!chunk.includes(0x0d) && !chunk.includes(0x0a)) return;
      prompts += 1;
      socket.write('hubris> ');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  return {
    prompts: () => prompts,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('labslot check and agent in a QEMU guest with probes and a console', () => {
  // One guest for the whole suite: QEMU is killed (by PID) when the suite ends.
  const cleanup = scriptCleanup();
  after(() => cleanup.runAll());
  let prompts = (): number => 0;
  let lab: Promise<UsbLab> | undefined;
  const guest = (): Promise<UsbLab> => (lab ??= start());

  async function start(): Promise<UsbLab> {
    const dir = mkdtempSync(join(tmpdir(), 'labslot-usb-cli-'));
    cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'slots.toml');
    writeFileSync(config, CONFIG);
    const fake = await serveConsole(join(dir, 'console.sock'));
    cleanup.after(() => fake.close());
    prompts = fake.prompts;
    const plan: CliGuestPlan = { project: PROJECT_ROOT, config, stateDir: '/run/labslot/state', listen: '127.0.0.1:8421', pollMs: POLL_MS, console: CONSOLE, sp: SP, rot: ROT };
    return startUsbLab(cleanup, {
      serials: [{ id: CONSOLE_ID, serial: CONSOLE.serial, port: 1, socket: join(dir, 'console.sock') }],
      gadgets: [SP, ROT].map((g) => ({ name: g.gadget, vid: g.vid, pid: g.pid, serial: g.serial, manufacturer: 'NXP', product: 'MCU-Link' })),
      program: { script: GUEST_SCRIPT, args: [JSON.stringify(plan)], cwd: PROJECT_ROOT, warmTsxCache: true },
      // Under the test runner's 120 s per file (scripts/run-tests.mjs), so no QEMU outlives its test process.
      timeoutMs: 115_000,
    });
  }

  async function phase<T>(name: string, timeoutMs: number): Promise<T> {
    const line = await (await guest()).waitForLine(new RegExp(`^\\{"phase":"(${name}|error)"`), timeoutMs);
    const report = JSON.parse(line) as T & { phase: string; error?: string };
    assert.notEqual(report.phase, 'error', `the guest program failed: ${report.error ?? ''}`);
    return report;
  }
  async function check(step: string, timeoutMs: number): Promise<CheckJson & { code: number | null; ms: number }> {
    const r = await phase<CheckStep>(`check","step":"${step}`, timeoutMs);
    assert.ok(r.json, `labslot check printed no JSON (exit ${r.code ?? 'none'}):\n${r.stdout ?? ''}\n${r.stderr}`);
    assert.equal(r.stderr, '', 'labslot check wrote to stderr');
    return { ...r.json, code: r.code, ms: r.ms };
  }
  const slot = (r: CheckJson, name: string): CheckJson['slots'][number] => {
    const found = r.slots.find((s) => s.name === name);
    assert.ok(found, `no slot ${name} in ${JSON.stringify(r)}`);
    return found;
  };
  const device = (r: CheckJson, slotName: string, name: string): DeviceJson => {
    const found = slot(r, slotName).devices.find((d) => d.name === name);
    assert.ok(found, `no device ${name} in slot ${slotName}`);
    return found;
  };
  const summary = (r: CheckJson): string => r.slots.flatMap((s) => s.devices.map((d) => `${s.name}/${d.name}: ${d.reason}`)).join('; ');

  it('labslot check --json: exit 0, both probes present, the console answers its probe', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const r = await check('all', 100_000);
    const { timings, startedAt } = await guest();
    t.diagnostic(`guest: ${ms(timings.programMs)} from QEMU's start to the guest program; ${ms(performance.now() - startedAt)} to the first check's report; that check took ${ms(r.ms)} under TCG`);
    assert.equal(r.code, 0, summary(r));
    assert.equal(r.healthy, true);
    assert.equal(r.host.ok, true, r.host.reason);
    assert.deepEqual(Object.fromEntries(r.slots.map((s) => [s.name, s.healthy])), { sp: true, rot: true }, summary(r));
    assert.equal(device(r, 'sp', 'sp-probe').reason, `usb 1fc9:0143 serial ${SP.serial} present`);
    assert.equal(device(r, 'rot', 'rot-probe').reason, `usb 1fc9:0143 serial ${ROT.serial} present`);
    const tty = device(r, 'sp', 'sp-console');
    assert.match(tty.reason, /^serial \/dev\/ttyUSB\d+ answered$/);
    assert.match(tty.detail ?? '', /hubris> /);
    assert.ok(prompts() >= 1, 'the fake console never saw the probe');
  });

  it('console unplugged (QMP device_del): only slot sp is unhealthy, naming the adapter', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    await (await guest()).unplug(CONSOLE_ID);
    const r = await check('console-out', 60_000);
    t.diagnostic(`sp-console: ${device(r, 'sp', 'sp-console').reason}`);
    assert.equal(r.code, 1);
    assert.equal(r.healthy, false);
    assert.equal(slot(r, 'sp').healthy, false);
    assert.equal(slot(r, 'rot').healthy, true, summary(r));
    const tty = device(r, 'sp', 'sp-console');
    assert.equal(tty.ok, false);
    assert.ok(tty.reason.includes(CONSOLE_ID_TEXT), `reason does not name ${CONSOLE_ID_TEXT}: ${tty.reason}`);
    assert.equal(device(r, 'sp', 'sp-probe').ok, true, 'the SP probe stays present');
  });

  it('RoT probe unbound (console replugged): only slot rot is unhealthy, naming it and the SP probe that is present', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    // The guest unbinds the RoT gadget once the console is back.
    await (await guest()).replug(CONSOLE_ID);
    const r = await check('rot-out', 60_000);
    const rot = device(r, 'rot', 'rot-probe');
    t.diagnostic(`rot-probe: ${rot.reason}`);
    assert.equal(r.code, 1);
    assert.equal(slot(r, 'rot').healthy, false);
    assert.equal(slot(r, 'sp').healthy, true, `the replugged console answers again: ${summary(r)}`);
    assert.equal(rot.ok, false);
    assert.match(rot.reason, new RegExp(`^usb 1fc9:0143 serial ${ROT.serial} not present`));
    assert.match(rot.reason, new RegExp(`present with 1fc9:0143: serial ${SP.serial}\\)$`), 'the reason lists the SP probe as what is there');
  });

  it('RoT probe bound again: labslot check exits 0 with every device healthy', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const r = await check('all-back', 60_000);
    assert.equal(r.code, 0, summary(r));
    assert.ok(r.slots.every((s) => s.healthy && s.devices.every((d) => d.ok === true)), summary(r));
  });

  it('labslot agent in the guest: slot sp unhealthy within 1 s of the console unplug (interval 60 s); SIGTERM exits 0', async (t) => {
    if (!requires(t, ...USB_LAB_PREREQUISITES)) return;
    const lab = await guest();
    const ready = await phase<{ ms: number }>('agent-ready', 90_000);
    t.diagnostic(`agent up with every slot healthy ${ms(ready.ms)} after its start`);

    const unplugged = performance.now();
    await lab.unplug(CONSOLE_ID);
    const d = await phase<{
      latencyMs: number;
      getMs: number[];
      hotplugLogMs: number | null;
      transitionLogMs: number | null;
      devices: { name: string; health: string; reason: string | null; trigger: string | null }[] | undefined;
      rot: string;
    }>('agent-detached', 30_000);
    const hostMs = performance.now() - unplugged;
    t.diagnostic(
      `console unplugged -> GET /v1/slots/sp answers 'unhealthy': ${d.latencyMs} ms, measured in the guest from its tty or USB device leaving the kernel ` +
        `(polled every 2 ms) to the answer of a GET polled every ${POLL_MS} ms (${d.getMs.length} GETs of ${d.getMs.join(', ')} ms)`,
    );
    t.diagnostic(
      `the agent's log: hotplug re-check at +${d.hotplugLogMs ?? '?'} ms (libusb's detach event, after udevd, + 50 ms debounce), 'unhealthy' recorded at +${d.transitionLogMs ?? '?'} ms; ` +
        `${Math.round(hostMs)} ms from QMP device_del on the host to the host reading the guest's report`,
    );
    const consoleView = d.devices?.find((x) => x.name === 'sp-console');
    t.diagnostic(`sp-console: ${consoleView?.reason ?? '?'}`);
    assert.equal(consoleView?.health, 'unhealthy');
    assert.equal(consoleView.trigger, 'hotplug');
    assert.ok(consoleView.reason?.includes(CONSOLE_ID_TEXT), `reason does not name ${CONSOLE_ID_TEXT}: ${consoleView.reason ?? ''}`);
    assert.equal(d.devices?.find((x) => x.name === 'sp-probe')?.health, 'healthy');
    assert.equal(d.rot, 'healthy', 'slot rot stays healthy');
    assert.ok(d.latencyMs < 1_000, `unhealthy ${d.latencyMs} ms after the unplug; the requirement is under 1 s`);

    const stopped = await phase<{ code: number | null; signal: string | null; ms: number; stderr: string; logTail: string }>('agent-stopped', 40_000);
    t.diagnostic(`agent stopped ${stopped.ms} ms after SIGTERM`);
    assert.equal(stopped.code, 0, `agent exit ${stopped.code ?? stopped.signal ?? '?'}:\n${stopped.stderr}\n${stopped.logTail}`);
    assert.equal(stopped.stderr, '');
    const result = await lab.finished;
    assert.equal(result.exitCode, 0, `guest program failed:\n${result.stdout}\n${result.stderr}`);
  });
});

function ms(value: number | undefined): string {
  return value === undefined ? '?' : `${(value / 1000).toFixed(1)} s`;
}
