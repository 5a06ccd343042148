// Starts a job's command as its worker: `setpriv` switches to the worker's
// UID and GID and applies its supplementary groups with initgroups (Node's
// spawn({uid, gid}) would drop them), sets no_new_privs and drops every
// capability. Only then does `env -i` give the job its environment: setpriv
// runs as root, and a job-chosen variable must never reach a root process. stdout and stderr go straight to the output file, so the job's
// output does not depend on the agent staying up.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { PreparedWorker } from './worker-setup.js';

export interface JobExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** setpriv itself could not start: the lab's problem, not the job's. */
  spawnError?: string;
  /** The job's processes survived SIGKILL; the run stopped waiting for them. */
  abandoned?: boolean;
}

export interface StartedJob {
  pid: number;
  exited: Promise<JobExit>;
}

export function privilegeDrop(worker: Pick<PreparedWorker, 'uid' | 'gid'>): string[] {
  return ['setpriv', `--reuid=${worker.uid}`, `--regid=${worker.gid}`, '--init-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

/** What the privileged part of the chain runs with: nothing from the job. */
const PRIVILEGED_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** `env -i NAME=VALUE... COMMAND...`, run after the privilege drop. */
export function withJobEnvironment(env: Readonly<Record<string, string>>, command: readonly string[]): string[] {
  return ['/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command];
}

export function startJobProcess(worker: PreparedWorker, outputPath: string): StartedJob {
  const [program, ...args] = [...privilegeDrop(worker), ...withJobEnvironment(worker.env, worker.command)];
  if (program === undefined) throw new TypeError('no command');
  const out = openSync(outputPath, 'a', 0o600);
  try {
    const child = spawn(program, args, {
      cwd: worker.cwd,
      env: PRIVILEGED_ENV,
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
