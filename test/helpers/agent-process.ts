// Starts the real `labslot agent` as a child process on an ephemeral port and
// stops it again; the test gets the URL, the child and its JSON log lines.
// Once it has stopped, whatever it made on the host must be gone
// (leak-check.ts): every test that starts an agent gets that check.
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { lifo, type Cleanup } from './cleanup.js';
import { LABSLOT_BIN, PROJECT_ROOT } from './cli.js';
import { AGENT_MARK_ENV, assertNoLeaks, descendantsOf, newAgentMark, type ProcessId } from './leak-check.js';

/** Agents of this test process still running, per state directory: while one runs there, its workers are not another's leftovers. */
const runningOn = new Map<string, number>();

export interface RunningAgent {
  url: string;
  port: number;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** The AGENT_MARK_ENV value in its environment (and its children's): how the leak check knows its processes. */
  mark: string;
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
  const argv = [
    process.execPath,
    LABSLOT_BIN,
    'agent',
    '-c',
    options.config,
    '--state-dir',
    options.stateDir,
    '--listen',
    options.listen ?? '127.0.0.1:0',
  ];
  // --pdeathsig: if this test process dies (a file timeout kills it), its agent gets SIGTERM and cleans up
  // instead of running on as an orphan with its jobs, users and cgroups.
  const [program, ...args] = ['setpriv', '--pdeathsig', 'TERM', '--', ...(options.wrapper ?? []), ...argv];
  const mark = newAgentMark();
  const child = spawn(program, args, { cwd: PROJECT_ROOT, stdio, env: { ...process.env, [AGENT_MARK_ENV]: mark } });
  const stateKey = realPath(options.stateDir);
  runningOn.set(stateKey, (runningOn.get(stateKey) ?? 0) + 1);
  const { stdout, stderr: stderrPipe } = child;
  if (stdout === null || stderrPipe === null) throw new Error('the agent has no stdout or stderr pipe');
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      runningOn.set(stateKey, (runningOn.get(stateKey) ?? 1) - 1);
      resolve(code);
    }),
  );
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  // Its children as it is told to stop: one that clears its environment (and so its mark) is still known by pid.
  let descendants: ProcessId[] = [];
  const noteDescendants = (): void => {
    if (isRunning() && child.pid !== undefined) descendants = descendantsOf(child.pid);
  };
  lifo(t).after(async () => {
    if (isRunning()) {
      noteDescendants();
      // SIGTERM first: the agent stops its jobs and cleans their workers up, so a test that failed halfway
      // leaves no user, cgroup or grant behind. SIGKILL only for an agent that does not stop.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // Another agent of this test on the same state directory (registered earlier, so stopped later) owns
    // its workers and cgroups now; its own teardown checks them.
    await assertNoLeaks(
      { stateDir: options.stateDir, mark, descendants },
      { stateDirChecks: (runningOn.get(stateKey) ?? 0) === 0 },
    );
  });
  stderrPipe.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`agent did not start listening within ${options.timeoutMs ?? 15_000} ms; stderr: ${stderr}`)),
      options.timeoutMs ?? 15_000,
    );
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
    mark,
    exited,
    stop: async (signal = 'SIGTERM') => {
      noteDescendants();
      child.kill(signal);
      return exited;
    },
  };
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // Not made yet: the agent makes it, under this name.
  }
}
