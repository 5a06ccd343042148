// The whole host's CPU over a stretch of a benchmark, from /proc/stat: what
// the agent's own counters cannot show, the kernel's threads (loop devices,
// block I/O, network namespace teardown) and every other process included.
// It says whether a run was bound by the CPU (busy near 100 % of every core)
// or waited on something else.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { TICKS_PER_SECOND } from './process-tree.js';

export interface HostCpu {
  /** CPU time spent on anything but idle and I/O wait, over all cores, ms (a VM's steal time counts as busy). */
  busyMs: number;
  /** Wall time times the number of cores, ms. */
  totalMs: number;
}

/** The host's CPU counters since boot (the first line of /proc/stat). */
export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((sum, n) => sum + n, 0);
  return { busyMs: ((total - idle) * 1000) / TICKS_PER_SECOND, totalMs: (total * 1000) / TICKS_PER_SECOND };
}

/** The host between two readings. */
export interface HostLoad {
  /** Share of all cores that was busy. */
  busyShare: number;
  /** Busy CPU time per job, ms. */
  msPerJob: number;
}

export function hostLoad(before: HostCpu, after: HostCpu, jobs: number): HostLoad {
  const busy = after.busyMs - before.busyMs;
  return { busyShare: busy / Math.max(1, after.totalMs - before.totalMs), msPerJob: busy / jobs };
}

/** "98 % of 2 cores busy, 86.1 ms per job host-wide" */
export function describeLoad(load: HostLoad): string {
  return `${(load.busyShare * 100).toFixed(0)} % of ${cpus().length} cores busy, ${load.msPerJob.toFixed(1)} ms CPU per job host-wide`;
}
