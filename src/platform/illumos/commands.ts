// Command lines the illumos platform runs, and parsers for what they print.
// Pure functions: every command is an argv (runProcess never uses a shell),
// every value in it comes from the agent (names, ids, paths), never a job.
import { WORKER_SERVICE } from './manifest.js';

/** Exit codes of the illumos user and group tools (<userdefs.h>). */
export const EX_ID_EXISTS = 4;
export const EX_NAME_NOT_EXIST = 6;
export const EX_NAME_EXISTS = 9;

export interface WorkerUserSpec {
  name: string;
  /** Supplementary groups (the slot's add_to_groups). */
  groups: readonly string[];
  home: string;
}

export function groupaddArgv(name: string, gid: number): string[] {
  return ['groupadd', '-g', String(gid), name];
}

/** No -m: the agent makes the home directory itself, inside the worker's root-owned directory. */
export function useraddArgv(user: WorkerUserSpec, id: number): string[] {
  return [
    'useradd',
    '-u',
    String(id),
    '-g',
    String(id),
    ...(user.groups.length > 0 ? ['-G', user.groups.join(',')] : []),
    '-d',
    user.home,
    '-s',
    '/bin/sh',
    '-c',
    'labslot worker',
    user.name,
  ];
}

/** illumos userdel leaves the user's own group behind (there is no USERGROUPS_ENAB): groupdel follows. */
export function userdelArgv(name: string): string[] {
  return ['userdel', name];
}

export function groupdelArgv(name: string): string[] {
  return ['groupdel', name];
}

export function getentPasswdArgv(uid: number): string[] {
  return ['getent', 'passwd', String(uid)];
}

export function svccfgImportArgv(manifest: string): string[] {
  return ['svccfg', 'import', manifest];
}

/** -f: an online instance (a transient one that finished) is deleted too. */
export function svccfgDeleteArgv(fmri: string): string[] {
  return ['svccfg', 'delete', '-f', fmri];
}

/** -t: enabled until the next boot only, so a reboot never runs a job again. */
export function svcadmEnableArgv(fmri: string): string[] {
  return ['svcadm', 'enable', '-t', fmri];
}

export function svcsStateArgv(fmri: string): string[] {
  return ['svcs', '-H', '-o', 'state,nstate', fmri];
}

/** A service FMRI selects all of its instances, disabled ones included. */
export function svcsWorkerInstancesArgv(): string[] {
  return ['svcs', '-H', '-o', 'fmri', WORKER_SERVICE];
}

/** The pid of the start method (the wrapper that waits for the job), recorded by svc.startd. */
export function startPidArgv(fmri: string): string[] {
  return ['svcprop', '-p', 'restarter/start_pid', fmri];
}

/**
 * Processes whose real uid is the worker's, in this zone only: from the
 * global zone pgrep sees every zone, and another zone may have the same uid.
 */
export function pgrepArgv(uid: number, zone: string): string[] {
  return ['pgrep', '-z', zone, '-U', String(uid)];
}

export interface SvcsState {
  state: string;
  /** The state a transition is heading to, or `-` when none is under way. */
  next: string;
}

/** `svcs -H -o state,nstate` output, or undefined for anything else. */
export function parseSvcsState(output: string): SvcsState | undefined {
  const line = output.split('\n').find((l) => l.trim() !== '');
  const fields = line?.trim().split(/\s+/);
  if (fields?.length !== 2) return undefined;
  const [state, next] = fields as [string, string];
  if (!/^[a-z_]+\*?$/.test(state) || !/^([a-z_]+|-)$/.test(next)) return undefined;
  return { state, next };
}

/** The "no such instance" answer of svcs: `svcs: Pattern '...' doesn't match any instances`. */
export function isNoMatch(output: string): boolean {
  return /doesn't match any/i.test(output);
}

/** Worker instance FMRIs in `svcs -H -o fmri` output; other lines (errors) are ignored. */
export function parseWorkerFmris(output: string): string[] {
  const prefix = `${WORKER_SERVICE}:`;
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix) && /^w[a-z0-9]+$/.test(l.slice(prefix.length)));
}

/** Pids separated by white space (pgrep: one per line); anything that is not a positive integer is dropped. */
export function parsePids(output: string): number[] {
  return output
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number)
    .filter((pid) => pid > 0);
}

/** `svcprop -p restarter/start_pid` prints the pid alone. */
export function parseStartPid(output: string): number | undefined {
  const text = output.trim();
  return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}
