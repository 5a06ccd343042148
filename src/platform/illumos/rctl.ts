// A job's limits as illumos resource controls on the worker's own project
// (project(5)): svc.startd puts the start method, and so the job, in that
// project through the instance's method_context. There are no cgroups, so:
//   pids   -> project.max-lwps: LWPs of the whole project, threads included,
//             like the pids controller; a fork past it fails with EAGAIN;
//   cpus   -> project.cpu-cap: percent of one CPU for all of the project;
//   memory -> process.max-address-space, per process and virtual (illumos
//             has no hard memory limit for a project outside zones), plus
//             rcap.max-rss for the whole project, which rcapd enforces by
//             paging out when svc:/system/rcap is enabled.
// Pure functions; the reasons are in smf/README.md.
import type { JobLimits, LimitVerdict } from '../platform.js';

/** LWPs of the start method itself (a single-threaded ksh93), which runs in the project too. */
export const WRAPPER_LWPS = 1;

export class LimitValueError extends Error {
  override readonly name = 'LimitValueError';
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new LimitValueError(`${what} must be a positive integer, not ${String(value)}`);
  return value;
}

/** The project attributes (`projadd -K`) for a job's limits; none when it has none. */
export function projectAttributes(limits: JobLimits): string[] {
  const attrs: string[] = [];
  if (limits.pids !== undefined) {
    attrs.push(`project.max-lwps=(privileged,${positiveInteger(limits.pids, 'pids') + WRAPPER_LWPS},deny)`);
  }
  if (limits.cpus !== undefined) {
    if (!Number.isFinite(limits.cpus) || limits.cpus <= 0)
      throw new LimitValueError(`cpus must be a positive number, not ${String(limits.cpus)}`);
    attrs.push(`project.cpu-cap=(privileged,${Math.max(1, Math.round(limits.cpus * 100))},deny)`);
  }
  if (limits.memoryBytes !== undefined) {
    const bytes = positiveInteger(limits.memoryBytes, 'memory');
    attrs.push(`process.max-address-space=(privileged,${bytes},deny)`, `rcap.max-rss=${bytes}`);
  }
  return attrs;
}

/** The worker's project: only its user may join it, and it carries the limits. */
export function projaddArgv(project: string, username: string, workerId: string, limits: JobLimits): string[] {
  return [
    'projadd',
    '-c',
    `labslot worker ${workerId}`,
    '-U',
    username,
    ...projectAttributes(limits).flatMap((attr) => ['-K', attr]),
    project,
  ];
}

export function projdelArgv(project: string): string[] {
  return ['projdel', project];
}

/** The project's current LWP count; prctl needs a live process in the project to answer. */
export function prctlLwpsArgv(project: string): string[] {
  return ['prctl', '-P', '-n', 'project.max-lwps', '-i', 'project', project];
}

/** The `usage` line of `prctl -P` output: `project.max-lwps usage 12 - - -`. */
export function parsePrctlUsage(output: string, control: string): number | undefined {
  for (const line of output.split('\n')) {
    const [name, kind, value] = line.trim().split(/\s+/);
    if (name === control && kind === 'usage' && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * Which limit ended a job, from what was seen while it ran. illumos counts
 * no failed forks for a project, so the LWP count is sampled: a sample at the
 * cap means forks were being refused. A refused allocation (address space)
 * leaves no trace the agent can read, so memory gets no verdict.
 */
export function lwpsVerdict(limits: JobLimits, maxLwpsSeen: number): LimitVerdict {
  if (limits.pids === undefined || maxLwpsSeen < limits.pids + WRAPPER_LWPS) return undefined;
  return `process limit of ${limits.pids} reached: the job's project hit project.max-lwps`;
}

/** Project names in a project(5) file (/etc/project). */
export function parseProjectNames(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '' && !name.startsWith('#') && !name.startsWith('+'));
}
