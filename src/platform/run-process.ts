// Runs a program from an argv (never through a shell) with a timeout and an
// AbortSignal, kills its whole process group when either fires, and keeps only
// the tail of its output so a chatty check cannot grow the agent's memory.
import { processStarter, type ProcessStarter, type StartedProcess } from './process-starter.js';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes of combined stdout+stderr to keep (the end of it). */
  keepBytes?: number;
  /** See StartOptions.holdsHostLock. */
  holdsHostLock?: boolean;
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

export function runProcess(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  return runProcessWith(processStarter(), argv, options);
}

/** runProcess on a given way of starting programs; the tests hold both to one contract. */
export async function runProcessWith(
  starter: ProcessStarter,
  argv: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError('runProcess needs a program');
  const started = performance.now();
  const keep = options.keepBytes ?? 4096;
  let output = Buffer.alloc(0);
  const append = (chunk: Buffer): void => {
    output = Buffer.concat([output, chunk]);
    if (output.length > keep * 2) output = output.subarray(output.length - keep);
  };
  let timedOut = false;
  let aborted = false;
  const failed = (spawnError: NodeJS.ErrnoException): RunResult => ({
    code: null,
    signal: null,
    output: '',
    timedOut,
    aborted,
    spawnError,
    durationMs: performance.now() - started,
  });

  let child: StartedProcess;
  try {
    child = starter.start(
      program,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, holdsHostLock: options.holdsHostLock },
      append,
    );
  } catch (error) {
    return failed(error as NodeJS.ErrnoException);
  }
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, options.timeoutMs);
  const onAbort = (): void => {
    // A deadline passed in as AbortSignal.timeout() is a timeout, and says so.
    if ((options.signal?.reason as Error | undefined)?.name === 'TimeoutError') timedOut = true;
    else aborted = true;
    child.kill();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const end = await child.exited;
    if (end.spawnError !== undefined) return failed(end.spawnError);
    const text = output.subarray(Math.max(0, output.length - keep)).toString('utf8');
    const { code, signal } = end;
    return { code, signal, output: text, timedOut, aborted, durationMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    child.kill();
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
