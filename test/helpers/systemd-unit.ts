// Reads systemd/labslot.service and turns it into a command line that runs
// the agent the way systemd would, without systemd as PID 1: a mount namespace
// set up as the unit's file-system directives describe, the unit's
// capability bounding set (setpriv), its environment, working directory and
// umask, and the ExecStart argv with the binary relocated to this checkout.
// Seccomp directives cannot be applied here; they are listed so the test
// checks them another way (strace), and any directive this file does not know
// fails the test, so a new hardening line cannot go untested.
import { readFileSync } from 'node:fs';

export type UnitSection = Map<string, string[]>;

/** `[Section]` → key → values in order (a key may repeat); comments and blank lines dropped. */
export function parseUnit(text: string): Map<string, UnitSection> {
  const sections = new Map<string, UnitSection>();
  let current: UnitSection | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || current === undefined) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

export function readUnit(url: URL): Map<string, UnitSection> {
  return parseUnit(readFileSync(url, 'utf8'));
}

/** The last value of a key, as systemd reads a single-valued setting. */
export function last(section: UnitSection | undefined, key: string): string | undefined {
  return section?.get(key)?.at(-1);
}

/** Space-separated list settings (CapabilityBoundingSet=, ReadWritePaths=, ...), all lines joined. */
export function list(section: UnitSection | undefined, key: string): string[] {
  return (section?.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
}

/** Applied to the process by `emulation()`. */
const APPLIED = new Set([
  'ExecStart',
  'StateDirectory',
  'StateDirectoryMode',
  'CapabilityBoundingSet',
  'ProtectSystem',
  'ReadWritePaths',
  'ProtectHome',
  'PrivateTmp',
  'ProtectKernelTunables',
  'ProtectKernelModules',
  'ProtectKernelLogs',
  'ProtectHostname',
]);
/** System call filters: inherited by every process, checked by tracing what the agent and its job call. */
export const SECCOMP = new Set([
  'RestrictAddressFamilies',
  'RestrictNamespaces',
  'SystemCallArchitectures',
  'RestrictRealtime',
  'LockPersonality',
]);
/** Lifecycle settings that do not change what a running agent may do. */
const LIFECYCLE = new Set([
  'Type',
  'Restart',
  'RestartSec',
  'RestartPreventExitStatus',
  'KillMode',
  'TimeoutStopSec',
  'Delegate',
]);

/** [Service] keys the emulation does not account for. */
export function unknownServiceKeys(service: UnitSection): string[] {
  return [...service.keys()].filter((k) => !APPLIED.has(k) && !SECCOMP.has(k) && !LIFECYCLE.has(k));
}

/** systemd 252's default PATH for system services (`systemd-path search-binaries-default`). */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EmulationOptions {
  /** The directory standing in for /var/lib/<StateDirectory>. */
  stateDirectory: string;
  /** Replaces ExecStart's program (the npm bin) with this checkout's. */
  program: string;
  /**
   * This checkout, and an empty directory outside /tmp. A package installed as the unit expects lives in
   * /usr/local, but a checkout may sit under /tmp (CI clones there), where PrivateTmp= would hide it: it is
   * parked in `stash` first and put back at its own path, read-only, inside the private /tmp.
   */
  project: { root: string; stash: string };
  /** Replaces `-c FILE`. */
  config: string;
  /** Appended to the ExecStart argv (the test's --listen 127.0.0.1:0). */
  extraArgs: readonly string[];
  /** Runs this instead of ExecStart (a probe of the emulation itself). */
  command?: readonly string[];
  /** A command to wrap the agent in once the namespace is set up, before the capability drop (strace). */
  tracer?: readonly string[];
  /** An empty file with mode 000, bound over files the unit makes inaccessible (systemd's /run/systemd/inaccessible/reg). */
  inaccessibleFile: string;
  /** The mount points of this host (field 5 of /proc/self/mountinfo). */
  mountPoints: readonly string[];
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

/** The argv to spawn: `unshare` into a namespace that a shell script sets up, then the agent. */
export function emulation(service: UnitSection, options: EmulationOptions): string[] {
  const lines = ['set -eu'];
  const yes = (key: string): boolean => ['yes', 'true', '1', 'on'].includes(last(service, key) ?? 'no');
  const { root, stash } = options.project;
  const hiddenByPrivateTmp = yes('PrivateTmp') && ['/tmp', '/var/tmp'].some((tmp) => under(root, tmp));
  if (['/home', '/root', '/run/user'].some((home) => under(root, home)))
    throw new Error(`the emulation cannot run a checkout under ${root}: ProtectHome= hides it; clone it elsewhere`);
  if (hiddenByPrivateTmp) lines.push(`mount --bind ${quote(root)} ${quote(stash)}`);
  const protectSystem = last(service, 'ProtectSystem');
  if (protectSystem !== 'strict')
    throw new Error(`the emulation knows ProtectSystem=strict only, not ${String(protectSystem)}`);
  const writable = [...list(service, 'ReadWritePaths'), options.stateDirectory];
  // Writable paths are bind-mounted onto themselves first, so the read-only remounts below pass them by.
  for (const path of writable) lines.push(`mount --bind ${quote(path)} ${quote(path)}`);
  // ProtectSystem=strict: every mount read-only except the API file systems (/dev, /proc, /sys).
  for (const point of [...new Set(options.mountPoints)].sort()) {
    if (['/dev', '/proc', '/sys'].some((api) => under(point, api)) || writable.some((w) => under(point, w))) continue;
    lines.push(`mount -o remount,bind,ro ${quote(point)}`);
  }
  const inaccessible = (path: string): string =>
    `if [ -e ${quote(path)} ]; then mount -t tmpfs -o ro,mode=000,size=4k tmpfs ${quote(path)}; fi`;
  const inaccessibleFile = (path: string): string =>
    `if [ -e ${quote(path)} ]; then mount --bind ${quote(options.inaccessibleFile)} ${quote(path)}; fi`;
  if (last(service, 'ProtectHome') !== 'yes') throw new Error('the emulation knows ProtectHome=yes only');
  for (const home of ['/home', '/root', '/run/user']) lines.push(inaccessible(home));
  if (yes('PrivateTmp')) for (const tmp of ['/tmp', '/var/tmp']) lines.push(`mount -t tmpfs -o mode=1777 tmpfs ${tmp}`);
  if (hiddenByPrivateTmp)
    lines.push(
      `mkdir -p ${quote(root)}`,
      `mount --bind ${quote(stash)} ${quote(root)}`,
      `mount -o remount,bind,ro ${quote(root)}`,
    );
  if (yes('ProtectKernelTunables')) {
    // /sys and its mounts read-only except /sys/fs/cgroup (systemd's protect_kernel_tunables_sys_table), /proc/sys read-only.
    for (const point of [...new Set(options.mountPoints)]
      .filter((p) => under(p, '/sys') && !under(p, '/sys/fs/cgroup'))
      .sort())
      lines.push(`mount -o remount,bind,ro ${quote(point)}`);
    lines.push('mount --bind /proc/sys /proc/sys', 'mount -o remount,bind,ro /proc/sys');
  }
  if (yes('ProtectKernelModules')) lines.push(inaccessible('/usr/lib/modules'));
  if (yes('ProtectKernelLogs')) lines.push(inaccessibleFile('/proc/kmsg'), inaccessibleFile('/dev/kmsg'));
  // WorkingDirectory= and UMask= defaults of system services.
  lines.push('cd /', 'umask 022', 'exec "$@"');

  const caps = list(service, 'CapabilityBoundingSet').map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  const [program, ...args] = (last(service, 'ExecStart') ?? '').split(/\s+/);
  if (program === undefined || program === '') throw new Error('no ExecStart');
  const argv = args.map((a) => a.replace('${STATE_DIRECTORY}', options.stateDirectory));
  const c = argv.indexOf('-c');
  if (c < 0) throw new Error('ExecStart has no -c');
  argv[c + 1] = options.config;
  const env = [`PATH=${SYSTEMD_PATH}`, `STATE_DIRECTORY=${options.stateDirectory}`, ...list(service, 'Environment')];
  return [
    'unshare',
    '--mount',
    ...(yes('ProtectHostname') ? ['--uts'] : []),
    '--propagation',
    'slave',
    '--',
    'sh',
    '-c',
    lines.join('\n'),
    'labslot-unit',
    ...(options.tracer ?? []),
    'setpriv',
    `--bounding-set=-all,${caps.join(',')}`,
    '--inh-caps=-all',
    '--',
    '/usr/bin/env',
    '-i',
    ...env,
    ...(options.command ?? [options.program, ...argv, ...options.extraArgs]),
  ];
}
