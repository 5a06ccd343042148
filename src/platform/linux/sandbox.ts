// The command line that starts a job on Linux (DESIGN §3.4), outermost first:
//   sh      joins the worker's cgroups with its own pid, then execs, so
//           nothing the job forks starts outside them;
//   unshare a mount namespace whose whole tree is private: on a host where
//           `/` is shared (systemd), the sandbox's mounts would otherwise
//           propagate back and multiply with every concurrent job;
//   bwrap   root read-only, a fresh /dev with only the slot's devices added, a
//           PID namespace with its own /proc, the worker's own directories
//           writable; the network stays the host's,
//           since jobs reach their SP over IPv6; dies with the agent;
//   setpriv the worker's uid and gid with initgroups (bwrap's own --uid would
//           drop supplementary groups), no_new_privs, no capabilities, an
//           empty bounding set;
//   labslot-landlock  a Landlock domain of the job's own, in which abstract
//           Unix sockets made outside it cannot be reached (landlock.ts),
//           told the ABI the agent found at start so that it refuses the job
//           rather than run it unscoped, and why on SANDBOX_REPORT_FD;
//   env -i  then sh, which reads the job's environment from a file only the
//           worker's group can read, only now that nothing runs as root.
// Everything is an argv element, and nothing of the job's environment (its
// secrets, the worker token) is: argv is anyone's to read in `ps`. The shell
// scripts are fixed and take the cgroup files, the environment file and the
// command as "$@", never as code; the environment file is data the job's own
// shell reads, each value single-quoted.
import { readdirSync, readlinkSync } from 'node:fs';
import { landlockLauncher, landlockScope } from './landlock.js';
import type { JobLaunch, WorkerAccount } from '../platform.js';

const ENTER_CGROUPS =
  'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do echo "$$" > "$1" || exit 125; shift; done; shift; exec "$@"';
const LOAD_ENVIRONMENT = '. "$1" || exit 125; shift; exec "$@"';
/** Where the platform writes the job's environment, in the worker's private directory. */
export const ENVIRONMENT_FILE = 'environment';
/**
 * The descriptor the chain's first process gets for the launcher's report (why the job did not start).
 * Every step passes it on; the launcher marks it close-on-exec, so the job never holds it.
 */
export const SANDBOX_REPORT_FD = 3;

export function privilegeDrop(worker: Pick<WorkerAccount, 'uid' | 'gid'>): string[] {
  return [
    'setpriv',
    `--reuid=${worker.uid}`,
    `--regid=${worker.gid}`,
    '--init-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
  ];
}

/** Run after the privilege drop: an empty environment, then the job's from `envFile` (environmentScript), then the command. */
export function withJobEnvironment(envFile: string, command: readonly string[]): string[] {
  return ['/usr/bin/env', '-i', '/bin/sh', '-c', LOAD_ENVIRONMENT, 'labslot-env', envFile, ...command];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The job's environment as lines `export NAME='value'` for sh's `.`; a name that is not one is a bug upstream. */
export function environmentScript(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      if (!ENV_NAME.test(name)) throw new TypeError(`"${name}" is not an environment variable name`);
      return `export ${name}='${value.replaceAll("'", "'\\''")}'\n`;
    })
    .join('');
}

/** An entry of the host's `/`, as the sandbox rebuilds it. */
export interface RootEntry {
  name: string;
  kind: 'directory' | 'file' | 'symlink' | 'other';
  /** For symlinks. */
  target?: string;
}

export function hostRoot(): RootEntry[] {
  return readdirSync('/', { withFileTypes: true }).map((entry) => {
    if (entry.isSymbolicLink())
      return { name: entry.name, kind: 'symlink' as const, target: readlinkSync(`/${entry.name}`) };
    return {
      name: entry.name,
      kind: entry.isDirectory() ? ('directory' as const) : entry.isFile() ? ('file' as const) : ('other' as const),
    };
  });
}

/** Top-level places the sandbox provides itself instead of the host's. */
const PROVIDED = new Set(['proc', 'dev', 'tmp']);

/**
 * The root is a tmpfs rebuilt from the host's top-level entries, each bound
 * read-only, so the job's own top-level directories (/work, /input, /output)
 * can be made in it; it is remounted read-only once everything is in place.
 */
export function bwrapArguments(launch: JobLaunch, root: readonly RootEntry[] = hostRoot()): string[] {
  const args = [
    'bwrap',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
  ];
  // Top-level directories that are the job's own (/work, /input, /output, /tmp) replace the host's.
  const ownTopLevel = new Set(
    [...launch.writable, ...launch.readOnly]
      .map((m) => m.inJob)
      .filter((p) => /^\/[^/]+$/.test(p))
      .map((p) => p.slice(1)),
  );
  args.push('--tmpfs', '/');
  for (const entry of root) {
    if (PROVIDED.has(entry.name) || ownTopLevel.has(entry.name)) continue;
    if (entry.kind === 'symlink' && entry.target !== undefined) args.push('--symlink', entry.target, `/${entry.name}`);
    else if (entry.kind === 'directory' || entry.kind === 'file')
      args.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  args.push('--dev', '/dev', '--proc', '/proc');
  // Its own /dev/shm, sized: bwrap's /dev has only an empty root-owned directory there.
  if (launch.limits.shmBytes !== undefined)
    args.push('--perms', '1777', '--size', String(launch.limits.shmBytes), '--tmpfs', '/dev/shm');
  // Mounts apply in order, each on top of the ones before: outer paths first, or a bind of /tmp would
  // cover the worker's directories of a state directory that lives under /tmp.
  const mounts = [
    ...launch.readOnly.map(({ host, inJob }) => ['--ro-bind', host, inJob]),
    ...launch.writable.map(({ host, inJob }) => ['--bind', host, inJob]),
    ...launch.devices.map(({ host, inJob }) => ['--dev-bind', host, inJob]),
  ];
  const depth = (mount: string[]): number => (mount.at(-1) ?? '').split('/').filter(Boolean).length;
  const targets: string[] = ['/dev'];
  for (const mount of mounts.sort((x, y) => depth(x) - depth(y))) {
    const target = mount.at(-1) ?? '/';
    // A path under an earlier mount (the state directory of a test under /tmp, an installation under
    // /work) needs its parents made in it: bwrap would make them 0700 root, closed to the job.
    const under = targets.filter((t) => target.startsWith(`${t}/`)).sort((x, y) => y.length - x.length)[0];
    if (under !== undefined) {
      const rest = target
        .slice(under.length + 1)
        .split('/')
        .slice(0, -1);
      for (let i = 1; i <= rest.length; i += 1)
        args.push('--perms', '0755', '--dir', `${under}/${rest.slice(0, i).join('/')}`);
    }
    args.push(...mount);
    targets.push(target);
  }
  args.push('--remount-ro', '/', '--chdir', launch.cwd, '--');
  return args;
}

/**
 * `envFile`: the job's environment (environmentScript), readable by the worker inside the sandbox.
 * `landlockAbi`: what the agent's probe found at start (landlockAbi), which the launcher holds the job to.
 */
export function sandboxCommand(
  launch: JobLaunch,
  cgroupProcsFiles: readonly string[],
  envFile: string,
  landlockAbi: number,
): string[] {
  const landlock = landlockLauncher();
  return [
    '/bin/sh',
    '-c',
    ENTER_CGROUPS,
    'labslot-enter',
    ...cgroupProcsFiles,
    '--',
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    // The launcher's own directory, whatever the job's mounts hide (an installation under /work).
    ...bwrapArguments({
      ...launch,
      readOnly: [...launch.readOnly, { host: landlock.dir, inJob: landlock.dir }],
    }),
    ...privilegeDrop(launch.worker),
    ...landlockScope(landlockAbi, landlock, SANDBOX_REPORT_FD),
    ...withJobEnvironment(envFile, launch.command),
  ];
}
