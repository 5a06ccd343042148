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
//   env -i  the job's environment, only now that nothing runs as root.
// Everything is an argv element; the only shell script is fixed, and it
// takes the cgroup files and the rest as "$@", never as code.
import { readdirSync, readlinkSync } from 'node:fs';
import type { JobLaunch, WorkerAccount } from './platform.js';

const ENTER_CGROUPS = 'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do echo "$$" > "$1" || exit 125; shift; done; shift; exec "$@"';

export function privilegeDrop(worker: Pick<WorkerAccount, 'uid' | 'gid'>): string[] {
  return ['setpriv', `--reuid=${worker.uid}`, `--regid=${worker.gid}`, '--init-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

/** `env -i NAME=VALUE... COMMAND...`, run after the privilege drop. */
export function withJobEnvironment(env: Readonly<Record<string, string>>, command: readonly string[]): string[] {
  return ['/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command];
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
    if (entry.isSymbolicLink()) return { name: entry.name, kind: 'symlink' as const, target: readlinkSync(`/${entry.name}`) };
    return { name: entry.name, kind: entry.isDirectory() ? ('directory' as const) : entry.isFile() ? ('file' as const) : ('other' as const) };
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
  const args = ['bwrap', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session'];
  // Top-level directories that are the job's own (/work, /input, /output, /tmp) replace the host's.
  const ownTopLevel = new Set([...launch.writable, ...launch.readOnly].map((m) => m.inJob).filter((p) => /^\/[^/]+$/.test(p)).map((p) => p.slice(1)));
  args.push('--tmpfs', '/');
  for (const entry of root) {
    if (PROVIDED.has(entry.name) || ownTopLevel.has(entry.name)) continue;
    if (entry.kind === 'symlink' && entry.target !== undefined) args.push('--symlink', entry.target, `/${entry.name}`);
    else if (entry.kind === 'directory' || entry.kind === 'file') args.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  args.push('--dev', '/dev', '--proc', '/proc');
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
      const rest = target.slice(under.length + 1).split('/').slice(0, -1);
      for (let i = 1; i <= rest.length; i += 1) args.push('--perms', '0755', '--dir', `${under}/${rest.slice(0, i).join('/')}`);
    }
    args.push(...mount);
    targets.push(target);
  }
  args.push('--remount-ro', '/', '--chdir', launch.cwd, '--');
  return args;
}

export function sandboxCommand(launch: JobLaunch, cgroupProcsFiles: readonly string[]): string[] {
  return [
    '/bin/sh', '-c', ENTER_CGROUPS, 'labslot-enter', ...cgroupProcsFiles, '--',
    'unshare', '--mount', '--propagation', 'private', '--',
    ...bwrapArguments(launch),
    ...privilegeDrop(launch.worker),
    ...withJobEnvironment(launch.env, launch.command),
  ];
}
