// One agent per state directory: two agents sharing a database would lease
// the same slots. The lock is a pid file; a pid file whose process is gone
// (the agent was killed) is stale and taken over, which is what a restart
// after a crash needs.
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export class StateDirLockedError extends Error {
  override readonly name = 'StateDirLockedError';
}

export const LOCK_FILE = 'agent.pid';

export function lockStateDir(stateDir: string): () => void {
  const file = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        // Only our own lock is ours to remove.
        if (ownerOf(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = ownerOf(file);
      if (owner !== undefined && owner !== process.pid && isRunning(owner)) {
        throw new StateDirLockedError(`another agent (pid ${owner}) is using the state directory ${stateDir}`);
      }
      rmSync(file, { force: true }); // Stale: its agent is gone.
    }
  }
  throw new StateDirLockedError(`cannot take the lock ${file}`);
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie or a recycled pid of something else is not an agent.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) [ZX] /.test(stat)) return false;
    return /node|labslot/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // No /proc (illumos): trust kill(0).
  }
}
