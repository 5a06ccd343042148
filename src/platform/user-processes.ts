// Finds and signals every process a worker's UID owns, by reading /proc.
// The UID is the one handle a job cannot shed: a process that calls setsid()
// leaves the process group, and one that clears its dumpable flag makes its
// /proc directory look root-owned, but the Uid: line of its status stays.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Live processes of `uid`; zombies are already dead and only wait for their parent to reap them. */
export function processesOf(uid: number): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, 'latin1');
    } catch {
      continue; // Exited while we looked.
    }
    const ids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    if (ids && ids.slice(1).some((id) => Number(id) === uid) && !/^State:\s+Z/m.test(status)) pids.push(Number(entry));
  }
  return pids;
}

export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already, or a zombie waiting for its parent.
    }
  }
}

/**
 * SIGKILLs every process of `uid` until none is left or `timeoutMs` passes;
 * repeated because a process may fork between our listing and its kill.
 * Returns the PIDs still alive.
 */
export async function killUser(uid: number, timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = processesOf(uid);
  while (left.length > 0 && Date.now() < deadline && signal?.aborted !== true) {
    signalAll(left, 'SIGKILL');
    await sleep(20);
    left = processesOf(uid);
  }
  return left;
}

/** Waits until `uid` has no live process, for up to `timeoutMs`; true when none is left. */
export async function waitUserGone(uid: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (processesOf(uid).length === 0) return true;
    if (Date.now() >= deadline || signal?.aborted === true) return false;
    await sleep(50);
  }
}
