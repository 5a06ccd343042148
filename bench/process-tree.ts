// CPU and memory of an agent and what it keeps running (its spawner, its
// relays), read from /proc. A child's CPU reaches its parent's counters only
// when the parent reaps it, and the agent's spawner is reaped only when the
// agent stops, so the agent's own /proc/PID/stat would leave out every
// program the spawner started: the live descendants are added here.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** The kernel's clock tick, in which /proc/<pid>/stat counts CPU time (100 on every Linux we run on). */
export const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface TreeCpu {
  /** utime + stime of the agent itself, in ms. */
  self: number;
  /** stime alone: the kernel's share of self (fork, pipes, database writes), in ms. */
  system: number;
  /** The agent's live descendants themselves (its spawner, mostly), in ms. */
  helpers: number;
  /** What the agent and its live descendants have reaped: the programs they ran, in ms. */
  children: number;
  /** RSS of the agent, and of its live descendants together, in MiB. */
  rssMiB: number;
  helpersRssMiB: number;
}

interface Stat {
  ppid: number;
  self: number;
  system: number;
  children: number;
}

function statOf(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    // After the name: state is 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14.
    const f = text
      .slice(text.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ms = (ticks: number | undefined): number => ((ticks ?? 0) * 1000) / TICKS_PER_SECOND;
    return {
      ppid: f[1] ?? 0,
      self: ms(f[11]) + ms(f[12]),
      system: ms(f[12]),
      children: ms(f[13]) + ms(f[14]),
    };
  } catch {
    return undefined; // gone while we looked
  }
}

function rssMiBOf(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function descendantsOf(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry));
    if (stat !== undefined) byParent.set(stat.ppid, [...(byParent.get(stat.ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  for (let queue = [...(byParent.get(pid) ?? [])], next = queue.shift(); next !== undefined; next = queue.shift()) {
    found.push(next);
    queue.push(...(byParent.get(next) ?? []));
  }
  return found;
}

export function treeCpu(pid: number): TreeCpu {
  const agent = statOf(pid);
  if (agent === undefined) throw new Error(`process ${pid} is gone`);
  const result: TreeCpu = { ...agent, helpers: 0, rssMiB: rssMiBOf(pid), helpersRssMiB: 0 };
  for (const descendant of descendantsOf(pid)) {
    const stat = statOf(descendant);
    if (stat === undefined) continue;
    result.helpers += stat.self;
    result.children += stat.children;
    result.helpersRssMiB += rssMiBOf(descendant);
  }
  return result;
}
