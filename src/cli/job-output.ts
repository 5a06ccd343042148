// Copies a job's output (GET /v1/jobs/:id/output) to a writer as raw bytes,
// resuming from the byte offset already written when the connection breaks.
// The end of a follow stream is only trusted once GET /v1/jobs/:id says the
// job is done and every byte has arrived: a proxy, an agent restart or
// the client's 300 s idle timeout on a quiet job can all end a stream early.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, describeFetchFailure, type AgentClient } from './agent-client.js';
import { CliError, EXIT_FAILURE } from './exit-codes.js';
import { jobPath, type JobJson } from './job-json.js';

export interface RetryPolicy {
  /** Consecutive attempts that get nowhere before giving up. */
  attempts: number;
  /** First pause between them; it doubles up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** About 20 s of trying (pauses of 0.25, 0.5, 1, 2, 4, 5, 5 s): enough for a network blip or an agent restart, short enough for CI to notice. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 250, maxDelayMs: 5_000 };

/** A stream that stayed open this long was working, even if the job printed nothing. */
const HEALTHY_STREAM_MS = 10_000;
/** Pause before reopening a stream the agent ended cleanly while the job is not done, so that cannot become a busy loop. */
const REOPEN_PAUSE_MS = 1_000;
const STATUS_TIMEOUT_MS = 30_000;

export interface OutputOptions {
  write: (chunk: Uint8Array) => Promise<void>;
  signal: AbortSignal;
  retry?: RetryPolicy;
  /** The agent has just answered (a job was submitted): a first attempt that cannot reach it is a blip, not a wrong URL. */
  retryFirstAttempt?: boolean;
  /** Told about each retry after a failed attempt (not about routine reopening). */
  onRetry?: (problem: string, offset: number, attempt: number, of: number) => void;
}

/** Streams until the job is done and all its output is written; resolves with the job as it ended. */
export async function followOutput(client: AgentClient, id: string, options: OutputOptions): Promise<JobJson> {
  const { job } = await transfer(client, id, true, options);
  if (job === undefined) throw new Error('followOutput ended without the job');
  return job;
}

/** Writes the output that exists now; resolves with the number of bytes. */
export async function copyOutput(client: AgentClient, id: string, options: OutputOptions): Promise<number> {
  return (await transfer(client, id, false, options)).offset;
}

async function transfer(
  client: AgentClient,
  id: string,
  follow: boolean,
  options: OutputOptions,
): Promise<{ offset: number; job?: JobJson }> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const progress = { offset: 0 };
  let failures = 0;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const started = Date.now();
    const before = progress.offset;
    let problem: string | undefined;
    try {
      const response = await client.stream(
        jobPath(id, `/output?offset=${before}${follow ? '&follow=1' : ''}`),
        options.signal,
      );
      await copyBody(response, progress, options.write);
    } catch (error) {
      problem = retryableProblem(error, options.signal);
      // Never reached the agent at all: it is down or the URL is wrong, and retrying would only delay saying so.
      if (
        attempts === 1 &&
        options.retryFirstAttempt !== true &&
        error instanceof AgentError &&
        error.status === undefined
      )
        throw error;
    }
    if (!follow && problem === undefined) return { offset: progress.offset };

    let job: JobJson | undefined;
    if (follow) {
      try {
        job = await client.request<JobJson>('GET', jobPath(id), undefined, STATUS_TIMEOUT_MS, options.signal);
      } catch (error) {
        problem ??= retryableProblem(error, options.signal);
      }
      // Done, and either every byte is here or a clean stream had nothing more to give (trust the bytes over the count).
      if (
        job?.done === true &&
        (progress.offset >= job.output_bytes || (problem === undefined && progress.offset === before))
      ) {
        return { offset: progress.offset, job };
      }
    }

    const progressed = progress.offset > before;
    if (problem === undefined || progressed || Date.now() - started >= HEALTHY_STREAM_MS) {
      failures = 0;
      // The agent is there and ended the stream, or it broke after working for a while: open it again, at
      // once when bytes were flowing, after a pause when the agent ended a stream that had nothing new.
      if (!progressed && Date.now() - started < REOPEN_PAUSE_MS)
        await sleep(REOPEN_PAUSE_MS, undefined, { signal: options.signal });
      continue;
    }
    failures += 1;
    if (failures >= retry.attempts) {
      throw new CliError(
        `lost the agent while reading the output of job ${id} at byte ${progress.offset}, ${failures} attempts in a row: ${problem}`,
        EXIT_FAILURE,
      );
    }
    options.onRetry?.(problem, progress.offset, failures + 1, retry.attempts);
    await sleep(Math.min(retry.baseDelayMs * 2 ** (failures - 1), retry.maxDelayMs), undefined, {
      signal: options.signal,
    });
  }
}

/** Writes the body chunk by chunk, counting each byte only once it is written. */
async function copyBody(
  response: Response,
  progress: { offset: number },
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  if (response.body === null) return;
  // The body yields bytes; the DOM-less typings of Node 20 leave the chunk type open.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      await write(value);
      progress.offset += value.byteLength;
    }
  } catch (error) {
    // Close the connection rather than leave it open behind us; a broken one cannot be cancelled, and need not be.
    reader.cancel().catch(() => undefined);
    throw error;
  }
}

/** The message for a failure worth another attempt; rethrows everything else (our own abort, the agent saying no). */
function retryableProblem(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) throw error;
  if (error instanceof AgentError) {
    if (!error.retryable) throw error;
    return error.message;
  }
  if (error instanceof CliError) throw error;
  // A body that breaks mid-way surfaces as the response's "aborted" error (ECONNRESET) or a socket error.
  return `connection broke: ${describeFetchFailure(error)}`;
}

/** onRetry for the commands: one line on stderr per failed attempt, so a slow job is not mistaken for a hung client. */
export function reportRetryOnStderr(id: string): NonNullable<OutputOptions['onRetry']> {
  return (problem, offset, attempt, of) =>
    process.stderr.write(
      `labslot: lost the output of job ${id} (${problem}); reconnecting at byte ${offset}, attempt ${attempt} of ${of}\n`,
    );
}

/** A writer for process.stdout (or any stream) that waits when the reader is slower than the job. */
export function streamWriter(stream: NodeJS.WritableStream): (chunk: Uint8Array) => Promise<void> {
  return async (chunk) => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
}
