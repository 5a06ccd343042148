// The job's stdout and stderr on illumos. svc.startd, not the agent, starts
// the job, so the agent cannot hand it an open output file, and the output
// file's directory is private to root. Instead the worker's directory holds a
// FIFO owned by the worker; the agent reads it and appends everything to the
// job's output file, so followers see output as it comes, as on Linux.
//
// The agent holds a write end of its own until the start method has
// reported the job's end: without it, the reader would see end-of-file before
// the job ever opened the FIFO. After that, end-of-file means every process
// of the job has closed it. Plain Node and a FIFO, so the tests run it here.
//
// With a cap ([jobs] max_output), the copy stops after that many bytes and
// closes the FIFO's only read end: the job's further writes fail (SIGPIPE,
// EPIPE), and the file holds at most the cap of the job's output.
import { once } from 'node:events';
import { closeSync, constants, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { chown } from 'node:fs/promises';
import { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { lastLines, runProcess } from '../run-process.js';
import { within } from '../../within.js';

export class OutputPipeError extends Error {
  override readonly name = 'OutputPipeError';
}

export class OutputPipe {
  private keepalive: number | undefined;
  private readonly ended: Promise<void>;
  private error: Error | undefined;
  /** What feeds the output file: the reader, or the cap between them. */
  private readonly feed: NodeJS.ReadableStream;

  private constructor(
    private readonly reader: Socket,
    keepalive: number,
    private readonly out: WriteStream,
    maxBytes: number | undefined,
  ) {
    this.keepalive = keepalive;
    const recordError = (error: Error): void => {
      this.error ??= error;
    };
    reader.on('error', recordError);
    out.on('error', recordError);
    // Resolves when the output file has everything the job wrote (or the pump broke).
    this.ended = new Promise((resolve) => {
      out.once('close', resolve);
      out.once('error', () => resolve());
    });
    if (maxBytes === undefined) {
      this.feed = reader;
    } else {
      const cap = new ByteCap(maxBytes, () => {
        reader.unpipe(cap);
        reader.destroy();
        cap.end();
      });
      this.feed = reader.pipe(cap);
    }
    this.feed.pipe(out);
  }

  /**
   * Makes the FIFO (mode 0600, owned by the worker) and starts copying it to
   * `outputFile`, appending at most `maxBytes` (undefined: no cap). `owner` undefined keeps the agent's ownership.
   */
  static async open(
    fifo: string,
    outputFile: string,
    options: { owner?: { uid: number; gid: number }; signal?: AbortSignal; maxBytes?: number | undefined } = {},
  ): Promise<OutputPipe> {
    const { owner, signal, maxBytes } = options;
    const made = await runProcess(['mkfifo', '-m', '0600', fifo], {
      timeoutMs: 10_000,
      signal,
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    });
    if (made.spawnError)
      throw new OutputPipeError(`cannot run mkfifo: ${made.spawnError.message}`, { cause: made.spawnError });
    if (made.code !== 0)
      throw new OutputPipeError(`mkfifo ${fifo} failed: ${lastLines(made.output, 2) || `exit ${String(made.code)}`}`);
    if (owner) await chown(fifo, owner.uid, owner.gid);
    // Non-blocking: opening a FIFO's read end otherwise waits for a writer.
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    let keepalive: number;
    try {
      keepalive = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      closeSync(readFd);
      throw error;
    }
    const out = createWriteStream(outputFile, { flags: 'a', mode: 0o600 });
    // A Socket on the descriptor reads it through the event loop, not the thread pool, which a
    // read that waits for a job to write would otherwise block for as long as the job runs.
    const reader = new Socket({ fd: readFd, readable: true, writable: false });
    return new OutputPipe(reader, keepalive, out, maxBytes);
  }

  /** The job is over: from now on end-of-file comes when its last process closes the FIFO. */
  releaseWriter(): void {
    if (this.keepalive === undefined) return;
    closeSync(this.keepalive);
    this.keepalive = undefined;
  }

  /** Waits until everything written is in the output file, or `timeoutMs`; true when it is. */
  async drained(timeoutMs: number): Promise<boolean> {
    return within(
      this.ended.then(() => true),
      timeoutMs,
      false,
    );
  }

  /** A failure of the copy (the output file's disk, a read error), if there was one. */
  get failure(): Error | undefined {
    return this.error;
  }

  /** Stops copying at once (cleanup): what leftovers still write is dropped. Idempotent. */
  async close(): Promise<void> {
    this.releaseWriter();
    this.feed.unpipe(this.out);
    this.reader.destroy();
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, 'close').catch(() => undefined);
    }
  }
}

/** Passes the first `maxBytes` bytes and drops the rest; `onFull` runs once, when the last one has passed. */
export class ByteCap extends Transform {
  private left: number;
  private full = false;

  constructor(
    maxBytes: number,
    private readonly onFull: () => void,
  ) {
    super();
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`output cap ${String(maxBytes)} is not a byte count`);
    this.left = maxBytes;
    if (maxBytes === 0) this.reachCap();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.left > 0) {
      const part = chunk.length <= this.left ? chunk : chunk.subarray(0, this.left);
      this.left -= part.length;
      this.push(part);
      if (this.left === 0) this.reachCap();
    }
    done();
  }

  private reachCap(): void {
    if (this.full) return;
    this.full = true;
    // Not from inside _transform: onFull ends this stream.
    process.nextTick(this.onFull);
  }
}
