// Starts the real `labslot agent` as a child process on an ephemeral port and
// stops it again; the test gets the URL, the child and its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { lifo, type Cleanup } from './cleanup.js';
import { LABSLOT_BIN, PROJECT_ROOT } from './cli.js';

export interface RunningAgent {
  url: string;
  port: number;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** How the agent process is started, beyond its config: what a service manager or a shell might hand it. */
export interface AgentSpawnOptions {
  /** A descriptor the agent inherits, at this number (as `50<file` in a shell would give it). */
  inheritFd?: { fd: number; from: number };
  /** A command line the agent runs under (e.g. prlimit with its options). */
  wrapper?: readonly string[];
}

export async function startAgent(
  t: Cleanup,
  options: { config: string; stateDir: string; listen?: string; timeoutMs?: number } & AgentSpawnOptions,
): Promise<RunningAgent> {
  const stdio: (number | 'ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
  if (options.inheritFd) {
    while (stdio.length < options.inheritFd.fd) stdio.push('ignore');
    stdio[options.inheritFd.fd] = options.inheritFd.from;
  }
  const argv = [process.execPath, LABSLOT_BIN, 'agent', '-c', options.config, '--state-dir', options.stateDir, '--listen', options.listen ?? '127.0.0.1:0'];
  // --pdeathsig: if this test process dies (a file timeout kills it), its agent gets SIGTERM and cleans up
  // instead of running on as an orphan with its jobs, users and cgroups.
  const [program, ...args] = ['setpriv', '--pdeathsig', 'TERM', '--', ...(options.wrapper ?? []), ...argv];
  const child = spawn(program, args, { cwd: PROJECT_ROOT, stdio });
  const { stdout, stderr: stderrPipe } = child;
  if (stdout === null || stderrPipe === null) throw new Error('the agent has no stdout or stderr pipe');
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  lifo(t).after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGTERM first: the agent stops its jobs and cleans their workers up, so a test that failed halfway
    // leaves no user, cgroup or grant behind. SIGKILL only for an agent that does not stop.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  });
  stderrPipe.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start listening within ${options.timeoutMs ?? 15_000} ms; stderr: ${stderr}`)), options.timeoutMs ?? 15_000);
    stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          entry = { msg: 'NOT JSON', line };
        }
        logs.push(entry);
        if (entry['msg'] === 'agent listening' && typeof entry['port'] === 'number') {
          clearTimeout(timer);
          resolve(entry['port']);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before listening; stderr: ${stderr}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    logs,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
