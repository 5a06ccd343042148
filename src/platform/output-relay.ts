// The cap on a job's output on Linux ([jobs] max_output). The job does not
// get its output file: it writes into a pipe whose reader, `head -c N` run by
// the agent as root, appends to the file and exits after N bytes. head writes
// through stdio, which would hold up to 4 KiB back from followers: stdbuf -o0
// (coreutils, like head) makes it write each read as it comes. (dd cannot be
// the relay: with count_bytes it counts a short read from a pipe as a block.) From then on
// the job's writes fail (SIGPIPE, or EPIPE where it ignores that), so the file
// can never hold more than N bytes of the job's, whatever the job does and
// however busy the agent's event loop is. The relay is outside the job's
// cgroup and uid: the job can neither write past it nor reach the file.
//
// The agent keeps no write end of the pipe once the job has started, so the
// relay sees end-of-file when the job's last process has gone; if the agent
// dies, bwrap's --die-with-parent takes the job down and the relay with it.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { within } from '../within.js';

export class OutputRelayError extends Error {
  override readonly name = 'OutputRelayError';
}

export class OutputRelay {
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  /** Starts `stdbuf -o0 head -c maxBytes` appending to `outputFd` (the agent may close its own copy afterwards). */
  static async start(outputFd: number, maxBytes: number, env: NodeJS.ProcessEnv): Promise<OutputRelay> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`output cap ${String(maxBytes)} is not a byte count`);
    const child = spawn('stdbuf', ['-o0', 'head', '-c', String(maxBytes)], {
      env,
      stdio: ['pipe', outputFd, 'ignore'],
      // Its own process group, like the job: a signal to the agent's group must not cut the job's output.
      detached: true,
    });
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw new OutputRelayError(`cannot start the output relay (head): ${(error as Error).message}`, { cause: error });
    }
    return new OutputRelay(child);
  }

  /** What the job gets as stdout and stderr: one pipe for both keeps their order. */
  get input(): Writable {
    const { stdin } = this.child;
    if (!stdin) throw new OutputRelayError('the output relay has no input pipe');
    return stdin;
  }

  /** Closes the agent's copy of the pipe's write end, once the job holds its own. Idempotent. */
  releaseInput(): void {
    this.child.stdin?.destroy();
  }

  /**
   * Waits until the relay has written everything and exited, which it does once no process of the job
   * holds the pipe; after `timeoutMs` it is killed (what is still in the pipe is lost). True when it
   * finished on its own.
   */
  async finish(timeoutMs: number): Promise<boolean> {
    this.releaseInput();
    if (
      await within(
        this.exited.then(() => true),
        timeoutMs,
        false,
      )
    )
      return true;
    this.child.kill('SIGKILL');
    await this.exited;
    return false;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}
