// Runs a program from an argv (never through a shell) with a timeout and an
// AbortSignal, kills its whole process group when either fires, and keeps only
// the tail of its output so a chatty check cannot grow the agent's memory.
import { spawn } from 'node:child_process';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes of combined stdout+stderr to keep (the end of it). */
  keepBytes?: number;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of stdout and stderr, interleaved as they arrived. */
  output: string;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
  durationMs: number;
}

export async function runProcess(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError('runProcess needs a program');
  const started = performance.now();
  const keep = options.keepBytes ?? 4096;
  let output = Buffer.alloc(0);
  const append = (chunk: Buffer): void => {
    output = Buffer.concat([output, chunk]);
    if (output.length > keep * 2) output = output.subarray(output.length - keep);
  };

  const failed = (error: NodeJS.ErrnoException): RunResult => ({
    code: null,
    signal: null,
    output: '',
    timedOut: false,
    aborted: false,
    spawnError: error,
    durationMs: performance.now() - started,
  });
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills the grandchildren a check script forks too.
      detached: true,
    });
  } catch (error) {
    return failed(error as NodeJS.ErrnoException);
  }
  // Attached before anything else can throw: a spawn that fails (EMFILE when a client has taken every
  // file descriptor, EAGAIN) emits 'error' on the next tick, and an unheard 'error' stops the agent.
  const spawnFailed = new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
  // Without a process there are no pipes either (undefined, whatever the types say).
  if (!child.stdout || !child.stderr) return failed(await spawnFailed);
  child.stdout.on('data', append);
  child.stderr.on('data', append);

  let timedOut = false;
  let aborted = false;
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, options.timeoutMs);
  const onAbort = (): void => {
    // A deadline passed in as AbortSignal.timeout() is a timeout, and says so.
    if ((options.signal?.reason as Error | undefined)?.name === 'TimeoutError') timedOut = true;
    else aborted = true;
    killGroup();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    return await new Promise<RunResult>((resolve) => {
      void spawnFailed.then((error) => resolve({ ...failed(error), timedOut, aborted }));
      // The program's own exit decides the result. Children it left behind would hold the pipes
      // open (and 'close' back) until the timeout, so they are killed with the group right away.
      child.once('exit', (code, signal) => {
        killGroup();
        child.once('close', () => {
          const text = output.subarray(Math.max(0, output.length - keep)).toString('utf8');
          resolve({ code, signal, output: text, timedOut, aborted, durationMs: performance.now() - started });
        });
      });
    });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    killGroup();
  }
}

/** The last `n` non-empty lines of some output, for check details. */
export function lastLines(text: string, n = 5): string {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-n)
    .join('\n');
}
