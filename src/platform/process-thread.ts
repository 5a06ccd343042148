// Where the agent's programs start (issue 17). Node starts a child by forking
// the whole agent and waiting until the child has exec'd: a few milliseconds
// of the event loop per program under load, and a lease starts about ten
// (useradd, nft, mkfs, umount, userdel, a check's command...). With every
// slot busy, those waits were what serialized the agent. Once installed, the
// agent's runProcess calls start their programs from this worker thread
// instead; the job's own sandbox, whose pipes the agent holds, still starts
// on the main thread.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runProcessHere, type RunOptions, type RunResult } from './run-process.js';
import { fromWireError, notStarted, type ThreadReply, type ThreadRequest } from './process-thread-wire.js';

/** The thread's module, built beside this one; absent when the agent runs from its TypeScript sources. */
const THREAD_MAIN = new URL('./process-thread-main.js', import.meta.url);

export class ProcessThread {
  /** A thread, where its module is built (dist/); undefined otherwise: programs then start on the main thread. */
  static start(): ProcessThread | undefined {
    return existsSync(fileURLToPath(THREAD_MAIN)) ? new ProcessThread() : undefined;
  }

  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ThreadReply['result']) => void>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /**
   * Why the thread is gone, if it is: the runs it had fail as programs that could not start (their
   * programs, detached, are not killed: a thread that only runs runProcess is not expected to fail).
   */
  broken: Error | undefined;

  private constructor() {
    this.worker = new Worker(THREAD_MAIN);
    // It must never keep the agent alive, nor take it down: a thread that fails ends every run it had.
    this.worker.unref();
    this.worker.on('message', (reply: ThreadReply) => {
      const resolve = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      resolve?.(reply.result);
    });
    const fail = (error: Error): void => {
      this.broken ??= error;
      for (const resolve of this.waiting.values()) resolve(threadFailure(error));
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the process thread exited (${code})`)));
  }

  /** runProcess, from the thread; once the thread has failed (said once in `broken`), from the main thread again. */
  async run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
    if (this.broken !== undefined) return runProcessHere(argv, options);
    const id = this.nextId++;
    const { signal, ...rest } = options;
    const reply = new Promise<ThreadReply['result']>((resolve) => this.waiting.set(id, resolve));
    this.inFlight.add(reply);
    void reply.finally(() => this.inFlight.delete(reply));
    const cancel = (): void => {
      const timedOut = (signal?.reason as Error | undefined)?.name === 'TimeoutError';
      this.post({ kind: 'cancel', id, timedOut });
    };
    this.post({ kind: 'run', id, argv: [...argv], options: rest });
    if (signal?.aborted === true) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return unwire(await reply);
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /**
   * Waits for the programs still running (each has its timeout) before the thread goes: their timers live
   * there, and a program whose thread is gone would run on unwatched.
   */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.worker.terminate();
  }

  private post(request: ThreadRequest): void {
    this.worker.postMessage(request);
  }
}

function threadFailure(error: Error): ThreadReply['result'] {
  return notStarted({ message: `process thread failed: ${error.message}` });
}

function unwire({ spawnError, ...result }: ThreadReply['result']): RunResult {
  return spawnError === undefined ? result : { ...result, spawnError: fromWireError(spawnError) };
}
