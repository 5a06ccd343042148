// What the agent does to its own process before it serves anyone. Linux only
// (through /proc); elsewhere these are no-ops that say so.
//
// - Descriptors it inherited (a shell's redirection, a service manager's
//   leftovers) are closed: Node opens everything it opens itself with
//   O_CLOEXEC, but an inherited descriptor without it passes into every
//   program the agent starts, a job included, which could read a root-only
//   file through it.
// - Its soft limit on open files goes up to the hard limit: a client holding
//   many connections must not leave the agent unable to open a database page
//   or start a check.
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { runProcess } from './run-process.js';

const O_CLOEXEC = 0o2000000;

/** Closes every descriptor above stderr that lacks close-on-exec; returns the ones it closed. */
export function closeInheritedDescriptors(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fdinfo');
  } catch {
    return [];
  }
  // Node's IPC channel to a parent that asked for one is inherited on purpose.
  const channel = Number(process.env['NODE_CHANNEL_FD'] ?? -1);
  const closed: number[] = [];
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2 || fd === channel) continue;
    let flags: number;
    try {
      const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (!match?.[1]) continue;
      flags = parseInt(match[1], 8);
    } catch {
      continue; // The descriptor readdir itself used, gone already.
    }
    if ((flags & O_CLOEXEC) !== 0) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // Closed meanwhile.
    }
  }
  return closed;
}

export interface FileLimit {
  soft: number;
  hard: number;
}

/** The soft and hard limits on open files, from /proc/self/limits ("unlimited" as Infinity). */
export function fileLimit(pid: number | 'self' = 'self'): FileLimit | undefined {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!line?.[1] || !line[2]) return undefined;
    const value = (text: string): number => (text === 'unlimited' ? Infinity : Number(text));
    return { soft: value(line[1]), hard: value(line[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Raises this process's soft limit on open files to its hard limit. Node has no setrlimit, so prlimit
 * (util-linux, which the sandbox needs anyway) sets it on this pid. Returns the limits after.
 */
export async function raiseFileLimit(): Promise<FileLimit | undefined> {
  const before = fileLimit();
  if (before === undefined || before.soft >= before.hard || !Number.isFinite(before.hard)) return before;
  const hard = String(before.hard);
  await runProcess(['prlimit', '--pid', String(process.pid), `--nofile=${hard}:${hard}`], { timeoutMs: 5_000 });
  return fileLimit();
}
