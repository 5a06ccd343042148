// What a job sees of the filesystem on illumos. There is no mount namespace
// for a job outside a zone: it sees the host's paths, its own directories
// where they really are. So the paths a launch names as the job sees them
// (/work, /tmp, /output, /input, /dev/labslot/<device>) are turned back into
// the host paths behind them: the working directory, environment values and
// command arguments that name one of them, or a path under one. Everything
// else is passed through unchanged. Pure.
import type { JobLaunch, Mapping } from '../platform.js';

export interface HostView {
  cwd: string;
  env: Record<string, string>;
  command: string[];
}

/** `value` with a leading in-job path replaced by its host path (the longest mapping that matches), or unchanged. */
export function toHostPath(value: string, mappings: readonly Mapping[]): string {
  let best: Mapping | undefined;
  for (const mapping of mappings) {
    if (mapping.inJob === mapping.host || mapping.inJob === '/' || mapping.inJob === '') continue;
    if (value !== mapping.inJob && !value.startsWith(`${mapping.inJob}/`)) continue;
    if (best === undefined || mapping.inJob.length > best.inJob.length) best = mapping;
  }
  return best === undefined ? value : `${best.host}${value.slice(best.inJob.length)}`;
}

export function hostView(
  launch: Pick<JobLaunch, 'cwd' | 'env' | 'command' | 'writable' | 'readOnly' | 'devices'>,
): HostView {
  const mappings = [...launch.writable, ...launch.readOnly, ...launch.devices];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(launch.env)) env[name] = toHostPath(value, mappings);
  return {
    cwd: toHostPath(launch.cwd, mappings),
    env,
    command: launch.command.map((arg) => toHostPath(arg, mappings)),
  };
}
