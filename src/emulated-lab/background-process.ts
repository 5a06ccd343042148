// A helper program the emulated lab keeps running (socat, pdudaemon). It gets
// its own process group: a terminal's Ctrl-C then reaches only the demo, which
// stops the agent before the consoles and the PDU, and stop() can signal
// whatever the program forked (pdudaemon's outlet commands) along with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { LabPartError } from './lab-part-error.js';

export interface BackgroundProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves once the program has exited, however it ended. */
  exited: Promise<void>;
  running: () => boolean;
  /** SIGTERM to the group, SIGKILL after `killAfterMs`; idempotent, resolves once the program is gone. */
  stop: () => Promise<void>;
  /** SIGKILL to the group at once, without waiting: for a forced stop. */
  kill: () => void;
}

export async function startBackground(
  argv: readonly string[],
  { killAfterMs = 3_000 } = {},
): Promise<BackgroundProcess> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError('startBackground needs a program');
  const child = spawn(program, args, { stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(new LabPartError(`cannot start ${program}: ${error.message}`, { cause: error })),
    );
  });
  const pid = child.pid;
  if (pid === undefined) throw new LabPartError(`cannot start ${program}: no process id`);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (running()) {
        signalGroup('SIGTERM');
        // pdudaemon's shutdown waits for open keep-alive connections (fetch keeps them): do not wait forever.
        const timer = setTimeout(() => signalGroup('SIGKILL'), killAfterMs);
        await exited;
        clearTimeout(timer);
      }
      // Whatever the program forked and left behind goes with it.
      signalGroup('SIGKILL');
    })());
  return { child, pid, exited, running, stop, kill: () => signalGroup('SIGKILL') };
}
