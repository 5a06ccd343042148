// Starts a job's command as its worker: `setpriv` switches to the worker's
// UID and GID and applies its supplementary groups with initgroups (Node's
// spawn({uid, gid}) would drop them), sets no_new_privs and drops every
// capability. stdout and stderr go straight to the output file, so the job's
// output does not depend on the agent staying up.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { PreparedWorker } from './worker-setup.js';

export interface JobExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** setpriv itself could not start: the lab's problem, not the job's. */
  spawnError?: string;
}

export interface StartedJob {
  pid: number;
  exited: Promise<JobExit>;
}

export function privilegeDrop(worker: Pick<PreparedWorker, 'uid' | 'gid'>): string[] {
  return ['setpriv', `--reuid=${worker.uid}`, `--regid=${worker.gid}`, '--init-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

export function startJobProcess(worker: PreparedWorker, outputPath: string): StartedJob {
  const [program, ...args] = [...privilegeDrop(worker), ...worker.command];
  if (program === undefined) throw new TypeError('no command');
  const out = openSync(outputPath, 'a', 0o600);
  try {
    const child = spawn(program, args, {
      cwd: worker.cwd,
      env: worker.env,
      stdio: ['ignore', out, out],
      // Its own process group: the agent's terminal signals do not reach it, and a stop can signal the group.
      detached: true,
    });
    const exited = new Promise<JobExit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, spawnError: error.message }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    if (child.pid === undefined) return { pid: -1, exited };
    return { pid: child.pid, exited };
  } finally {
    closeSync(out);
  }
}
