// A job's input archive: streamed from the request to disk under a size cap,
// checked entry by entry, extracted, and only then does the job become
// leasable. A refused archive leaves the job waiting for a better one.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { and, eq } from 'drizzle-orm';
import { formatSize } from '../config/size.js';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { jobs } from '../db/schema.js';
import { plural } from '../words.js';
import { archivesMissingFromInput, type JobArchives } from './humility-environment.js';
import { ArchiveError, extractArchive, type ArchiveSummary } from './job-archives.js';
import { jobDir, jobInputDir } from './job-paths.js';

export class InputTooLargeError extends Error {
  override readonly name = 'InputTooLargeError';
}

/** `archives` are what the job named for HUMILITY_ENVIRONMENT: an input without them is refused like a bad archive. */
export async function receiveInput(
  db: Db,
  stateDir: string,
  jobId: string,
  body: WebReadableStream<Uint8Array>,
  maxBytes: number,
  by: string,
  archives: JobArchives | null = null,
): Promise<ArchiveSummary> {
  const file = join(jobDir(stateDir, jobId), 'input.tar');
  try {
    const summary = await receiveArchive(body, file, jobInputDir(stateDir, jobId), maxBytes, archives);
    recordInput(db, jobId, by, summary);
    return summary;
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Streams an input archive to `file` under the size cap, extracts it into
 * `dir` (checked entry by entry) and checks that the Hubris archives the job
 * names are in it. A refused archive leaves no `dir`; `file` is the caller's.
 */
export async function receiveArchive(
  body: WebReadableStream<Uint8Array>,
  file: string,
  dir: string,
  maxBytes: number,
  archives: JobArchives | null,
): Promise<ArchiveSummary> {
  let received = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > maxBytes)
        done(
          new InputTooLargeError(`the input archive is over the limit of ${formatSize(maxBytes)} ([jobs] max_input)`),
        );
      else done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body), cap, createWriteStream(file, { mode: 0o600 }));
    return await unpackInput(file, dir, archives);
  } catch (error) {
    if (error instanceof ArchiveError || error instanceof InputTooLargeError) throw error;
    throw new ArchiveError(`the input archive could not be received: ${(error as Error).message}`, { cause: error });
  }
}

/** Extracts a received archive into `dir` and checks it holds the named Hubris archives; a refused one leaves no `dir`. */
export async function unpackInput(file: string, dir: string, archives: JobArchives | null): Promise<ArchiveSummary> {
  try {
    const summary = await extractArchive(file, dir);
    // Checked here, not at worker setup: the submitter is still there to hear it, and no slot waits on a typo.
    const missing = await archivesMissingFromInput(dir, archives);
    if (missing.length > 0)
      throw new ArchiveError(`the input lacks the Hubris archives the job names: ${missing.join('; ')}`);
    return summary;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function recordInput(db: Db, jobId: string, by: string, summary: ArchiveSummary): void {
  db.transaction((tx) => {
    tx.update(jobs)
      .set({ input: 'ready', waiting: null })
      .where(and(eq(jobs.id, jobId), eq(jobs.input, 'awaiting')))
      .run();
    recordEvent(tx, {
      type: 'job.input',
      jobId,
      actor: by,
      message: inputMessage(jobId, summary),
    });
  });
}

export function inputMessage(jobId: string, summary: ArchiveSummary): string {
  return `job ${jobId} got its input: ${plural(summary.files, 'file')}, ${plural(summary.bytes, 'byte')}`;
}
