// Finding and signalling a worker's processes on illumos, by uid (pgrep -U,
// in this zone). The uid is the handle a job cannot shed: it has no
// proc_setid, and setsid() or a double fork keep it.
//
// One process of the uid is not the job: the start method that waits for
// the job to report how it ended. It is spared from the job's signals, and
// killed only when nothing of the job is left and it has not exited by
// itself; svc.startd then refuses to start the job again (see
// illumos/worker-method.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePids, pgrepArgv } from './commands.js';
import { IllumosToolError, runTool } from './tool.js';
import { lastLines } from '../run-process.js';

/** How long the start method may take to report and exit after the job's last process died. */
const WRAPPER_GRACE_MS = 2_000;

export class WorkerProcesses {
  private zone: Promise<string> | undefined;

  /** The zone the agent runs in, asked once. */
  private currentZone(signal?: AbortSignal): Promise<string> {
    this.zone ??= runTool(['zonename'], { signal, timeoutMs: 10_000 }).then((r) => {
      const name = r.output.trim();
      if (r.code !== 0 || name === '') throw new IllumosToolError(`zonename failed: ${lastLines(r.output, 1)}`);
      return name;
    });
    this.zone.catch(() => (this.zone = undefined));
    return this.zone;
  }

  /** Live processes of `uid`; pgrep leaves zombies out (no LWP left), which only wait for their parent. */
  async list(uid: number, signal?: AbortSignal): Promise<number[]> {
    if (uid <= 0) return [];
    const result = await runTool(pgrepArgv(uid, await this.currentZone(signal)), {
      signal,
      timeoutMs: 10_000,
      keepBytes: 1 << 20,
    });
    // 1: nothing matched.
    if (result.code === 1) return [];
    if (result.code !== 0)
      throw new IllumosToolError(
        `pgrep -U ${uid} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`,
      );
    return parsePids(result.output);
  }

  /**
   * Sends `signal` to the job's processes, sparing `spare` (the start method). Returns how many there
   * were; 0 when they cannot be listed, since a stop must go on to its SIGKILL phase rather than throw.
   */
  async signal(uid: number, sig: NodeJS.Signals, spare: number | undefined): Promise<number> {
    const pids = (await this.list(uid).catch((): number[] => [])).filter((pid) => pid !== spare);
    signalAll(pids, sig);
    return pids.length;
  }

  /**
   * SIGKILLs the job's processes until none is left, then gives the start
   * method a moment to report and exit before it is killed too. Returns what
   * is still alive after `timeoutMs`; throws when the processes could not be
   * listed even once by then, since "none left" would be a guess.
   */
  async kill(uid: number, spare: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    if (uid <= 0) return [];
    const deadline = Date.now() + timeoutMs;
    let jobGoneAt: number | undefined;
    for (;;) {
      let pids: number[];
      try {
        pids = await this.list(uid, signal);
      } catch (error) {
        if (Date.now() >= deadline || signal?.aborted === true) throw error;
        await sleep(200);
        continue;
      }
      if (pids.length === 0) return [];
      if (Date.now() >= deadline || signal?.aborted === true) return pids;
      const job = pids.filter((pid) => pid !== spare);
      if (job.length > 0) {
        jobGoneAt = undefined;
        signalAll(job, 'SIGKILL');
      } else {
        jobGoneAt ??= Date.now();
        if (Date.now() - jobGoneAt >= WRAPPER_GRACE_MS) signalAll(pids, 'SIGKILL');
      }
      await sleep(50);
    }
  }

  /** True once `uid` has no live process at all (the start method included), false after `timeoutMs`. */
  async waitGone(uid: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (uid <= 0) return true;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A listing that fails counts as "not gone yet": the caller goes on to kill.
      if ((await this.list(uid, signal).catch(() => undefined))?.length === 0) return true;
      if (Date.now() >= deadline || signal?.aborted === true) return false;
      await sleep(100);
    }
  }
}

function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already.
    }
  }
}
