// Starts a program with Node's own spawn, which forks the whole agent: the
// fallback where the spawner (libexec/labslot-spawner.c) was not built, does
// not answer its probe, or cannot be started (process-starter.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import type { ProcessEnd, ProcessStarter, StartedProcess } from './process-starter.js';

export const directStarter: ProcessStarter = {
  kind: 'direct',
  start(program, args, { env, cwd }, onOutput): StartedProcess {
    // Typed as any child: a spawn that failed has no pipes, whatever the stdio option says.
    const child: ChildProcess = spawn(program, args, {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills the grandchildren a check script forks too.
      detached: true,
    });
    // Attached before anything else can throw: a spawn that fails (EMFILE when a client has taken every
    // file descriptor, EAGAIN) emits 'error' on the next tick, and an unheard 'error' stops the agent.
    const spawnFailed = new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const exited = new Promise<ProcessEnd>((resolve) => {
      void spawnFailed.then((spawnError) => resolve({ spawnError }));
      // Without a process there are no pipes either (undefined, whatever the types say).
      if (!child.stdout || !child.stderr) return;
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      // The program's own exit decides the result. Children it left behind would hold the pipes
      // open (and 'close' back) until the timeout, so they are killed with the group right away.
      child.once('exit', (code, signal) => {
        kill();
        child.once('close', () => resolve({ code, signal }));
      });
    });
    return { exited, kill };
  },
};
