// Runs INSIDE the QEMU USB lab guest (test/usb-qemu-cli.test.ts), with the
// host's node and tsx: the built `labslot` command line, run the way an
// operator runs it, against two probe gadgets and a usb-serial console. It
// imports nothing of labslot: what it knows of the bus it reads from sysfs.
// Prints one JSON line per step on stdout; the host test reads them as they come.
//   check all          `labslot check --json`, everything plugged in
//   check console-out  after the host's QMP device_del of the console (seen leaving sysfs here)
//   check rot-out      the host has replugged the console; the RoT gadget is unbound here
//   check all-back     the RoT gadget is bound again
//   agent-ready        `labslot agent` (interval 60 s) shows every slot healthy over HTTP
//   agent-detached     after the host's second device_del of the console: ms from the console
//                      leaving sysfs to GET /v1/slots/sp answering 'unhealthy'
//   agent-stopped      the agent's exit status after SIGTERM
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { emit, messageOf, readText, sleep, SYSFS_USB, waitFor } from './guest-util.js';

export interface UsbId {
  vid: number;
  pid: number;
  serial: string;
}

export interface CliGuestPlan {
  /** The project, whose bin/labslot.js runs. */
  project: string;
  config: string;
  stateDir: string;
  /** host:port the agent listens on, inside the guest. */
  listen: string;
  /** How often the agent's API is asked, once the console is gone. */
  pollMs: number;
  console: UsbId;
  sp: UsbId & { gadget: string; udc: string };
  rot: UsbId & { gadget: string; udc: string };
}

/** A long wait of the guest: the host's next action may follow a `labslot check` of its own. */
const HOST_STEP_MS = 60_000;

/** The kernel's name of the USB device with this identity (e.g. "1-1"), straight from sysfs. */
function sysfsName(id: UsbId): string | undefined {
  for (const name of readdirSync(SYSFS_USB)) {
    const dir = join(SYSFS_USB, name);
    const vid = readText(join(dir, 'idVendor'));
    if (vid === undefined || parseInt(vid, 16) !== id.vid) continue;
    if (parseInt(readText(join(dir, 'idProduct')) ?? '', 16) === id.pid && readText(join(dir, 'serial')) === id.serial) return name;
  }
  return undefined;
}

/** /dev/ttyUSBn of the adapter with this serial, once the kernel has made its node. */
function ttyOf(serial: string): string | undefined {
  for (const tty of readdirSync('/sys/class/tty').filter((t) => /^ttyUSB\d+$/.test(t))) {
    try {
      for (let dir = realpathSync(`/sys/class/tty/${tty}/device`); dir !== '/sys'; dir = dirname(dir)) {
        if (!existsSync(join(dir, 'idVendor'))) continue;
        if (readText(join(dir, 'serial')) === serial && existsSync(`/dev/${tty}`)) return `/dev/${tty}`;
        break;
      }
    } catch {
      // Going away as we look.
    }
  }
  return undefined;
}

/** On the bus with its /dev/bus/usb node made. */
function present(id: UsbId): true | undefined {
  const name = sysfsName(id);
  if (name === undefined) return undefined;
  const [bus, dev] = ['busnum', 'devnum'].map((f) => String(Number(readText(join(SYSFS_USB, name, f)))).padStart(3, '0'));
  return existsSync(`/dev/bus/usb/${bus ?? '?'}/${dev ?? '?'}`) ? true : undefined;
}
const gone = (id: UsbId): true | undefined => (sysfsName(id) === undefined ? true : undefined);
const consoleReady = (plan: CliGuestPlan): true | undefined => (ttyOf(plan.console.serial) !== undefined ? true : undefined);

interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node bin/labslot.js ARGS`, to the end (killed after timeoutMs). */
function labslot(plan: CliGuestPlan, args: readonly string[], timeoutMs: number): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(plan.project, 'bin/labslot.js'), ...args], { cwd: plan.project, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

async function check(plan: CliGuestPlan, step: string): Promise<void> {
  const exit = await labslot(plan, ['check', '-c', plan.config, '--json'], 45_000);
  let json: unknown = null;
  try {
    json = JSON.parse(exit.stdout);
  } catch {
    // Reported as stdout below.
  }
  emit({ phase: 'check', step, code: exit.code, signal: exit.signal, ms: exit.ms, json, ...(json === null ? { stdout: exit.stdout } : {}), stderr: exit.stderr });
}

/** GET on the agent; the parsed JSON body (throws on anything but 200). */
function getJson(plan: CliGuestPlan, path: string): Promise<unknown> {
  const [host, port] = plan.listen.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode ?? '?'} ${body}`));
        else resolve(JSON.parse(body) as unknown);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface SlotView {
  name: string;
  health: string;
  devices: { name: string; health: string; last_check: { reason: string | null } | null; history: { trigger: string }[] }[];
}

async function agentPhase(plan: CliGuestPlan): Promise<void> {
  const started = performance.now();
  const args = ['agent', '-c', plan.config, '--state-dir', plan.stateDir, '--listen', plan.listen];
  // Debug: the log then timestamps the hotplug re-check as well as the health change.
  const agent = spawn(process.execPath, [join(plan.project, 'bin/labslot.js'), ...args], {
    cwd: plan.project,
    env: { ...process.env, LABSLOT_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let stderr = '';
  agent.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  agent.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => agent.once('exit', (code, signal) => resolve({ code, signal })));
  let exit: { code: number | null; signal: string | null } | undefined;
  void exited.then((e) => (exit = e));
  const slots = async (): Promise<SlotView[] | undefined> => {
    if (exit) throw new Error(`the agent exited (${exit.code ?? exit.signal ?? '?'}): ${stderr}${log.slice(-2_000)}`);
    try {
      return ((await getJson(plan, '/v1/slots')) as { slots: SlotView[] }).slots;
    } catch {
      return undefined; // Not listening yet.
    }
  };
  try {
    let last: SlotView[] = [];
    await waitFor('every slot healthy in GET /v1/slots', async () => {
      last = (await slots()) ?? [];
      return last.length > 0 && last.every((s) => s.health === 'healthy') ? true : undefined;
    }, 60_000, 100).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}: ${JSON.stringify(last.map((s) => ({ slot: s.name, devices: s.devices.map((d) => [d.name, d.health, d.last_check?.reason]) })))}`);
    });
    const consoleDir = join(SYSFS_USB, sysfsName(plan.console) ?? '?');
    const ttyPath = ttyOf(plan.console.serial) ?? '?';
    if (!existsSync(consoleDir) || !existsSync(ttyPath)) throw new Error(`the console is not there before the unplug: ${consoleDir} ${ttyPath}`);
    emit({ phase: 'agent-ready', ms: Math.round(performance.now() - started) });

    // The host unplugs the console now. Its tty or its USB device leaving the kernel, whichever is first
    // (the tty, by about 15 ms), is the moment of the unplug: polled every 2 ms.
    const goneAt = await waitFor('the console to leave sysfs', () => (existsSync(consoleDir) && existsSync(ttyPath) ? undefined : performance.now()), HOST_STEP_MS, 2);
    const goneEpoch = Date.now();
    // A client polling the API. Under TCG each GET costs the agent about 50 ms of its one (emulated)
    // CPU, so the polling slows what it measures: the figure errs against the agent.
    const getMs: number[] = [];
    let view: SlotView | undefined;
    const unhealthyAt = await waitFor('GET /v1/slots/sp: unhealthy', async () => {
      const sent = performance.now();
      view = (await getJson(plan, '/v1/slots/sp')) as SlotView;
      getMs.push(Math.round(performance.now() - sent));
      return view.health === 'unhealthy' ? performance.now() : undefined;
    }, 10_000, plan.pollMs);
    const rot = ((await getJson(plan, '/v1/slots/rot')) as SlotView).health;
    // The agent's own timestamps (ms, wall clock): the hotplug re-check and the health change.
    const entries = log.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const at = (match: (e: Record<string, unknown>) => boolean): number | null => {
      const time = (x: Record<string, unknown>): number => (typeof x['time'] === 'string' ? Date.parse(x['time']) : NaN);
      const e = entries.find((x) => match(x) && time(x) >= goneEpoch - 1_000);
      return e === undefined ? null : time(e) - goneEpoch;
    };
    emit({
      phase: 'agent-detached',
      latencyMs: Math.round(unhealthyAt - goneAt),
      getMs,
      hotplugLogMs: at((e) => e['msg'] === 'usb hotplug, re-checking'),
      transitionLogMs: at((e) => e['msg'] === 'device health changed' && e['to'] === 'unhealthy'),
      devices: view?.devices.map((d) => ({ name: d.name, health: d.health, reason: d.last_check?.reason ?? null, trigger: d.history[0]?.trigger ?? null })),
      rot,
    });

    const stopAt = performance.now();
    agent.kill('SIGTERM');
    const timeout = sleep(30_000).then(() => undefined);
    const status = await Promise.race([exited, timeout]);
    emit({ phase: 'agent-stopped', ...(status ?? { code: null, signal: 'still running after 30 s' }), ms: Math.round(performance.now() - stopAt), stderr, logTail: log.slice(-1_500) });
  } finally {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  }
}

/** Unplugs (udc '') or plugs in a configfs gadget by its UDC file. */
function bindGadget(gadget: { gadget: string; udc: string }, bound: boolean): void {
  writeFileSync(`/sys/kernel/config/usb_gadget/${gadget.gadget}/UDC`, bound ? `${gadget.udc}\n` : '\n');
}

async function main(): Promise<void> {
  // The host loads this file only to fill tsx's cache for the guest (WARM_ONLY_ENV in qemu-usb-lab.ts).
  if (process.env['LABSLOT_USB_LAB_WARM_ONLY'] === '1') return;
  const plan = JSON.parse(process.argv[2] ?? '') as CliGuestPlan;
  const all = [plan.console, plan.sp, plan.rot];
  // Enumeration may still be going on when udev has settled.
  await waitFor('every device in sysfs, the console with its tty', () => (all.every((d) => present(d)) && consoleReady(plan) ? true : undefined), 20_000);
  await check(plan, 'all');

  await waitFor('the console to leave sysfs (QMP device_del)', () => gone(plan.console), HOST_STEP_MS);
  await check(plan, 'console-out');

  await waitFor('the console back, with its tty (QMP device_add)', () => consoleReady(plan), HOST_STEP_MS);
  bindGadget(plan.rot, false);
  await waitFor('the RoT gadget to leave sysfs', () => gone(plan.rot), 10_000);
  await check(plan, 'rot-out');

  bindGadget(plan.rot, true);
  await waitFor('the RoT gadget back in sysfs', () => present(plan.rot), 10_000);
  await check(plan, 'all-back');

  await agentPhase(plan);
}

main().then(
  () => {
    emit({ phase: 'done' });
    process.exit(0);
  },
  (error: unknown) => {
    emit({ phase: 'error', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  },
);
