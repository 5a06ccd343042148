// A real USB bus for tests on machines that have none (DESIGN §6): a QEMU guest
// (TCG, no KVM) with emulated USB devices that mounts the host's root
// read-only over 9p, so it runs the host's own node, this project's
// node_modules and its sources (through tsx) unchanged. Devices: FTDI
// `usb-serial` adapters (0403:6001) with chosen serials on an xHCI controller,
// which the host can hot-unplug and replug over QMP, and configfs gadgets on
// dummy_hcd with any vid/pid/serial. Recipe: shared/notes/usb-emulation.md.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { eventually, GiveUp } from './eventually.js';
import { DIAG_DIR_ENV } from './guest-util.js';
import { command, ROOT, type Prerequisite } from './prerequisites.js';
import { findGuestKernel, guestImages, isStaticElf } from './qemu-initramfs.js';
import { Qmp } from './qmp.js';

export const USB_LAB_PREREQUISITES: readonly Prerequisite[] = [
  ROOT,
  command('qemu-system-x86_64'),
  { what: 'a linux-image-amd64 kernel in /boot with its modules', met: () => findGuestKernel() !== undefined },
  { what: 'a static /bin/busybox (busybox-static)', met: () => isStaticElf('/bin/busybox') },
  command('cpio'),
  command('xz'),
  command('modprobe'),
  command('udevadm'),
];

export interface UsbSerialSpec {
  /** QMP device id, for unplug/replug. */
  id: string;
  serial: string;
  /** xHCI root port, 1-8 (the USB 2 ports). */
  port: number;
  /**
   * A Unix socket the test serves: what the guest writes to the adapter's tty
   * arrives there, and what the test writes back is the tty's input (a fake
   * console). QEMU connects to it at start, so it must be listening by then.
   * Without it the adapter has a null chardev.
   */
  socket?: string;
}

export interface GadgetSpec {
  name: string;
  vid: number;
  pid: number;
  serial: string;
  manufacturer?: string;
  product?: string;
}

/**
 * A TypeScript file run with the host's node and tsx in `cwd`, or a shell
 * command line. `warmTsxCache`: the host loads the script first (with
 * WARM_ONLY_ENV set, on which it must exit at once) so that the guest finds
 * its modules already transformed; only for scripts written for that.
 */
export type GuestProgram =
  { script: string; args?: readonly string[]; cwd: string; warmTsxCache?: boolean } | { shell: string; cwd?: string };

export interface UsbLabOptions {
  serials?: readonly UsbSerialSpec[];
  /** Made in /sys/kernel/config/usb_gadget/NAME and bound to `dummy_udc.N`, N the index here; write an empty line to its UDC to unplug it. */
  gadgets?: readonly GadgetSpec[];
  program: GuestProgram;
  env?: Readonly<Record<string, string>>;
  /** QEMU is killed after this long, whatever the guest is doing. */
  timeoutMs: number;
}

export interface GuestResult {
  /** The program's exit status (124: stopped by the guest's watchdog); null when it never finished. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The guest's serial console (boot markers, kernel errors). */
  console: string;
  timedOut: boolean;
}

export interface UsbLab {
  readonly pid: number;
  /** performance.now() when QEMU was started. */
  readonly startedAt: number;
  /** Host milliseconds from starting QEMU to the guest's stage 2 (host root mounted) and to the program's start (udev settled). */
  readonly timings: { stage2Ms?: number; programMs?: number };
  readonly finished: Promise<GuestResult>;
  stdout(): string;
  /**
   * `what`, then everything the host has of the guest: how it ended (the
   * program's exit status, the guest's watchdog, the host's hard timeout), the
   * program's stdout and stderr, the tail of each file the program left in
   * its diagnostics directory (DIAG_DIR_ENV), the kernel's last messages and the console.
   */
  explain(what: string): string;
  /** The first complete line of the program's stdout that matches. */
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  /** Hot-unplugs a usb-serial (QMP device_del) and waits until QEMU has removed it. */
  unplug(id: string): Promise<void>;
  /** Plugs it back in with the same properties (QMP device_add). */
  replug(id: string): Promise<void>;
  kill(): void;
}

/**
 * TCG, as there is no usable KVM. One vCPU: with two (multi-threaded TCG,
 * QEMU 7.2) node segfaulted in about one guest run in five; with one, never.
 * A 128 MiB translation cache: with 64 MiB, node, the agent and udevd
 * together thrashed it (everything in the guest 25-50 % slower, hotplug
 * latency doubled); peak QEMU RSS about 510 MB against 425 MB (256 MiB gained
 * nothing more and cost 660 MB). Uncapped, a long run grew to 1.3 GB.
 * The plain qemu64 CPU rather than `max`: one `labslot check` cost QEMU
 * 11.6 s of host CPU on average against 14.8 s (9 and 12 runs, 9.4-13.7 s
 * against 12.0-17.9 s, on a shared two-core host). Why was not pinned down:
 * Nehalem and SandyBridge, in single runs, did no better than `max`.
 */
const TCG_ARGS = ['-machine', 'q35', '-accel', 'tcg,tb-size=128', '-cpu', 'qemu64', '-smp', '1', '-m', '256'];
const SAFE = /^[A-Za-z0-9._+-]+$/;
const GUEST_OUT = '/run/labslot/out';
/**
 * The guest's watchdog stops the program this long before the host kills
 * QEMU, so the program can still report where it was (and the host read it)
 * instead of vanishing mid-step.
 */
const WATCHDOG_MARGIN_S = 12;
/** How much of each diagnostics file a failure message carries. */
const DIAG_TAIL_CHARS = 4_000;
const HOST_UID = process.geteuid?.() ?? 0;

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** QEMU splits option values at commas: refuse anything that could be read as another property. */
function qemuValue(value: string, what: string): string {
  if (value.includes(',')) throw new Error(`${what} may not contain a comma: ${value}`);
  return value;
}

function serialDeviceProps(spec: UsbSerialSpec): Record<string, string | number | boolean> {
  if (!SAFE.test(spec.id) || !SAFE.test(spec.serial))
    throw new Error(`usb-serial id and serial must match ${String(SAFE)}`);
  return {
    driver: 'usb-serial',
    id: spec.id,
    bus: 'xhci.0',
    port: String(spec.port),
    chardev: `ch-${spec.id}`,
    serial: spec.serial,
    'always-plugged': true,
  };
}

function gadgetScript(gadgets: readonly GadgetSpec[]): string {
  if (gadgets.length === 0) return '';
  const lines = ['mount -t configfs configfs /sys/kernel/config || fail "mount configfs"'];
  gadgets.forEach((g, udc) => {
    if (!SAFE.test(g.name)) throw new Error(`gadget name must match ${String(SAFE)}`);
    const dir = `/sys/kernel/config/usb_gadget/${g.name}`;
    const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
    lines.push(
      `g=${dir}`,
      'mkdir -p $g/strings/0x409 $g/configs/c.1 $g/functions/acm.usb0 || fail "gadget directories"',
      `echo ${hex(g.vid)} > $g/idVendor; echo ${hex(g.pid)} > $g/idProduct`,
      `echo ${quote(g.serial)} > $g/strings/0x409/serialnumber`,
      `echo ${quote(g.manufacturer ?? 'labslot')} > $g/strings/0x409/manufacturer`,
      `echo ${quote(g.product ?? g.name)} > $g/strings/0x409/product`,
      'ln -s $g/functions/acm.usb0 $g/configs/c.1/',
      `echo dummy_udc.${udc} > $g/UDC || fail "bind gadget ${g.name}"`,
    );
  });
  return lines.join('\n');
}

/** Stage 2, run by the guest's PID 1 on the host's root: gadgets, udev, the program, power off. */
function stage2Script(options: UsbLabOptions): string {
  const { program } = options;
  const run =
    'script' in program
      ? `cd ${quote(program.cwd)} && ${[process.execPath, '--import', 'tsx', program.script, ...(program.args ?? [])].map(quote).join(' ')}`
      : `${program.cwd !== undefined ? `cd ${quote(program.cwd)} && ` : ''}${program.shell}`;
  const env = Object.entries(options.env ?? {}).map(([k, v]) => `export ${k}=${quote(v)}`);
  return `#!/bin/sh
# labslot QEMU USB lab, stage 2 (PID 1 on the host's root, read-only).
# The host's root is read-only here; the writable places are tmpfs under /run/labslot.
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin HOME=/run/labslot/home TMPDIR=/run/labslot/tmp LANG=C.UTF-8
out=${GUEST_OUT}
mark() { read up _ < /proc/uptime; echo "LABSLOT-$1 $up" > /dev/console; }
poweroff_now() { sync; echo o > /proc/sysrq-trigger; while :; do :; done; }
fail() { echo "LABSLOT-STAGE2-FAILED $*" > /dev/console; poweroff_now; }
mark STAGE2
# Loopback, for programs that serve HTTP inside the guest (-nic none leaves lo down).
ip link set lo up 2>/dev/null || busybox ip link set lo up
${gadgetScript(options.gadgets ?? [])}
if [ -x /lib/systemd/systemd-udevd ]; then
  /lib/systemd/systemd-udevd --daemon > $out/udevd.log 2>&1
  udevadm trigger --action=add --subsystem-match=usb --subsystem-match=tty
  udevadm settle --timeout=15
fi
# tsx caches its transforms under $TMPDIR/tsx-<euid>: keep them on the host between runs.
mkdir -p /run/labslot/tsx-cache/tsx-${HOST_UID} && ln -s /run/labslot/tsx-cache/tsx-${HOST_UID} $TMPDIR/tsx-0
${env.join('\n')}
mkdir -p $out/diag
export ${DIAG_DIR_ENV}=$out/diag
mark RUN
# A watchdog of its own: the guest powers off even if the host test died and nobody kills QEMU.
# It fires ${WATCHDOG_MARGIN_S} s before the host's hard timeout (the guest's uptime is about
# QEMU's age): SIGTERM lets the program report the step it was at before the power goes.
read up _ < /proc/uptime
budget=$(( ${Math.floor(options.timeoutMs / 1000) - WATCHDOG_MARGIN_S} - \${up%.*} ))
[ $budget -gt 0 ] || budget=1
timeout -k 3 $budget sh -c ${quote(run)} > $out/stdout 2> $out/stderr < /dev/null
echo $? > $out/rc
mark DONE
# The console shows only the most severe kernel messages (loglevel=3): an OOM kill or a segfault is only here.
dmesg > $out/dmesg 2>&1
poweroff_now
`;
}

/** Environment variable set when the host only loads a guest script to fill tsx's cache: the script must exit at once. */
export const WARM_ONLY_ENV = 'LABSLOT_USB_LAB_WARM_ONLY';

/** Loads the script on the host with the guest's tsx cache, so the guest finds its modules transformed. */
function warmTsxCache(cleanup: Cleanup, program: { script: string; cwd: string }, tsxCache: string): void {
  const warm = spawn(process.execPath, ['--import', 'tsx', program.script], {
    cwd: program.cwd,
    env: { ...process.env, TMPDIR: tsxCache, [WARM_ONLY_ENV]: '1' },
    stdio: 'ignore',
    timeout: 60_000,
  });
  cleanup.after(() => warm.kill('SIGKILL'));
}

/** Boots a guest running `options.program`; QEMU is killed in `cleanup.after` and after `options.timeoutMs`. */
export async function startUsbLab(cleanup: Cleanup, options: UsbLabOptions): Promise<UsbLab> {
  const kernel = findGuestKernel();
  if (!kernel) throw new Error('no linux-image-amd64 kernel with modules installed');
  const images = guestImages(kernel);
  const dir = mkdtempSync(join(tmpdir(), 'labslot-usb-lab-'));
  const out = join(dir, 'out');
  const tsxCache = join(tmpdir(), 'labslot-qemu-usb-tsx-cache');
  mkdirSync(out);
  mkdirSync(tsxCache, { recursive: true });
  writeFileSync(join(out, 'guest.sh'), stage2Script(options), { mode: 0o755 });
  writeFileSync(join(out, 'stdout'), '');
  const qmpPath = join(dir, 'qmp.sock');

  const serials = new Map((options.serials ?? []).map((s) => [s.id, serialDeviceProps(s)]));
  const gadgets = options.gadgets ?? [];
  const args = [
    ...TCG_ARGS,
    ...['-vga', 'none', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', '-nic', 'none'],
    ...['-qmp', `unix:${qemuValue(qmpPath, 'QMP path')},server=on,wait=off`],
    ...['-kernel', images.vmlinux, '-initrd', images.initramfs],
    ...[
      '-append',
      `console=ttyS0 quiet loglevel=3 panic=-1${gadgets.length > 0 ? ` labslot.dummy_hcd=${gadgets.length}` : ''}`,
    ],
    ...['-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap'],
    ...['-virtfs', `local,path=${qemuValue(out, 'out dir')},mount_tag=out,security_model=none`],
    ...['-virtfs', `local,path=${qemuValue(tsxCache, 'tsx cache dir')},mount_tag=tsxcache,security_model=none`],
    ...['-device', 'qemu-xhci,id=xhci,p2=8,p3=8'],
  ];
  for (const spec of options.serials ?? []) {
    const props = serialDeviceProps(spec);
    const deviceArgs = Object.entries(props).map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : v}`);
    const chardev =
      spec.socket === undefined
        ? `null,id=${String(props['chardev'])}`
        : `socket,id=${String(props['chardev'])},path=${qemuValue(spec.socket, 'console socket')}`;
    args.push(
      '-chardev',
      chardev,
      '-device',
      `usb-serial,${deviceArgs.filter((a) => !a.startsWith('driver=')).join(',')}`,
    );
  }

  // tsx's transforms are most of the guest's start-up time under TCG: the host makes them while the guest boots.
  if ('script' in options.program && options.program.warmTsxCache === true)
    warmTsxCache(cleanup, options.program, tsxCache);

  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = qemu.pid;
  if (pid === undefined) throw new Error('qemu-system-x86_64 did not start');
  const kill = (): void => {
    if (qemu.exitCode !== null || qemu.signalCode !== null) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // It exited just now.
    }
  };
  // Should the test process end without its cleanup running.
  process.once('exit', kill);
  let consoleText = '';
  let qemuStderr = '';
  const timings: { stage2Ms?: number; programMs?: number } = {};
  qemu.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    consoleText += chunk;
    if (timings.stage2Ms === undefined && consoleText.includes('LABSLOT-STAGE2 '))
      timings.stage2Ms = performance.now() - started;
    if (timings.programMs === undefined && consoleText.includes('LABSLOT-RUN '))
      timings.programMs = performance.now() - started;
  });
  qemu.stderr.setEncoding('utf8').on('data', (chunk: string) => (qemuStderr += chunk));
  let timedOut = false;
  const hardTimeout = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);

  let qmp: Qmp | undefined;
  const read = (name: string): string => {
    try {
      return readFileSync(join(out, name), 'utf8');
    } catch {
      return '';
    }
  };
  const diagFiles = (): string[] => {
    try {
      return readdirSync(join(out, 'diag')).sort();
    } catch {
      return [];
    }
  };
  const finished = new Promise<GuestResult>((resolve) => {
    qemu.once('close', () => {
      clearTimeout(hardTimeout);
      process.off('exit', kill);
      qmp?.close();
      const rc = read('rc').trim();
      resolve({
        exitCode: rc === '' ? null : Number(rc),
        stdout: read('stdout'),
        stderr: read('stderr'),
        console: consoleText + (qemuStderr === '' ? '' : `\n[qemu stderr]\n${qemuStderr}`),
        timedOut,
      });
    });
  });
  let exited = false;
  void finished.then(() => (exited = true));
  cleanup.after(async () => {
    kill();
    await finished;
    rmSync(dir, { recursive: true, force: true });
  });

  try {
    qmp = await Qmp.connect(qmpPath, 10_000);
  } catch (error) {
    kill();
    const result = await finished;
    throw new Error(`QEMU did not start: ${String(error)}\n${result.console}`, { cause: error });
  }
  const control = qmp;

  const explain = (what: string): string => {
    const rc = read('rc').trim();
    const ending = timedOut
      ? `the host killed QEMU after its hard timeout of ${options.timeoutMs} ms`
      : rc === '124'
        ? "the guest's watchdog stopped the program (exit 124)"
        : rc !== ''
          ? `the guest program exited with ${rc}`
          : exited
            ? 'QEMU exited before the guest program finished'
            : 'the guest is still running';
    const kernel = read('dmesg').trimEnd().split('\n').slice(-25).join('\n');
    const sections = [
      `${what}\n(${ending}; ${Math.round(performance.now() - started)} ms after QEMU's start)`,
      `--- guest stdout ---\n${read('stdout')}`,
      `--- guest stderr ---\n${read('stderr')}`,
      ...diagFiles().map((name) => {
        const text = read(join('diag', name));
        return `--- ${name} (last ${Math.min(text.length, DIAG_TAIL_CHARS)} of ${text.length} characters) ---\n${text.slice(-DIAG_TAIL_CHARS)}`;
      }),
      ...(kernel === '' ? [] : [`--- the guest kernel's last messages ---\n${kernel}`]),
      `--- console ---\n${consoleText}\n${qemuStderr}`,
    ];
    return sections.join('\n');
  };
  return {
    pid,
    startedAt: started,
    timings,
    finished,
    stdout: () => read('stdout'),
    explain,
    async waitForLine(match, timeoutMs) {
      return eventually(
        () => {
          const poweredOff = exited; // before reading: the file is complete once QEMU has exited
          const text = read('stdout');
          const line = text
            .slice(0, text.lastIndexOf('\n') + 1)
            .split('\n')
            .find((l) => match.test(l));
          if (line !== undefined) return line;
          if (poweredOff) throw new GiveUp(explain(`the guest ended before printing a line matching ${String(match)}`));
          return false;
        },
        { timeoutMs, intervalMs: 10, message: () => explain(`a line matching ${String(match)}`) },
      );
    },
    async unplug(id) {
      if (!serials.has(id)) throw new Error(`no usb-serial ${id}`);
      const from = control.eventCount;
      await control.execute('device_del', { id });
      await control.waitEvent('DEVICE_DELETED', (data) => data['device'] === id, from, 10_000);
    },
    async replug(id) {
      const props = serials.get(id);
      if (!props) throw new Error(`no usb-serial ${id}`);
      await control.execute('device_add', props);
    },
    kill,
  };
}

/** Boots a guest, runs the program to the end, returns what it printed. */
export async function runInUsbLab(cleanup: Cleanup, options: UsbLabOptions): Promise<GuestResult> {
  const lab = await startUsbLab(cleanup, options);
  return lab.finished;
}
