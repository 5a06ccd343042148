// Moving archives between a user's directories and the agent: `--input DIR`
// is packed and streamed up; `job outputs ID -o DIR` is downloaded, checked
// entry by entry (the same rules the agent applies), and unpacked. Symlinks
// are never packed or unpacked: what a job left must not point anywhere.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ArchiveError, checkArchive, listTree, packEntries, unpackArchive } from '../jobs/job-archives.js';
import type { AgentClient } from './agent-client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { jobPath } from './job-json.js';

/** Packs `dir` and uploads it as the job's input; refuses what the agent would refuse before sending anything. */
export async function uploadInput(
  client: AgentClient,
  id: string,
  dir: string,
): Promise<{ files: number; bytes: number }> {
  const { entries, skipped } = await listTree(dir);
  if (skipped.length > 0)
    throw new CliError(
      `--input: ${skipped.slice(0, 3).join(', ')} ${skipped.length === 1 ? 'is' : 'are'} not a plain file or directory; only those can be sent`,
      EXIT_USAGE,
    );
  const body = Readable.toWeb(Readable.from(packEntries(dir, entries))) as unknown as ReadableStream<Uint8Array>;
  const answer = await client.upload<{ input: { files: number; bytes: number } }>(
    jobPath(id, '/input'),
    body,
    'application/x-tar',
  );
  return answer.input;
}

/** Uploads the input of a job just submitted; a job whose input cannot be sent is cancelled rather than left waiting. */
export async function sendInput(
  client: AgentClient,
  id: string,
  dir: string,
): Promise<{ files: number; bytes: number }> {
  try {
    return await uploadInput(client, id, dir);
  } catch (error) {
    await client.request('POST', jobPath(id, '/cancel'), {}).catch(() => undefined);
    throw error;
  }
}

/** Downloads the job's outputs and unpacks them into `dir`; returns the number of files. */
export async function downloadOutputs(client: AgentClient, id: string, dir: string): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'labslot-outputs-'));
  try {
    const file = join(scratch, 'outputs.tar');
    const response = await client.stream(jobPath(id, '/outputs'), AbortSignal.timeout(600_000));
    if (response.body === null) throw new CliError(`the agent sent no outputs for job ${id}`, EXIT_FAILURE);
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(file));
    let summary;
    try {
      summary = await checkArchive(file);
    } catch (error) {
      if (error instanceof ArchiveError)
        throw new CliError(`outputs of job ${id} refused: ${error.message}`, EXIT_FAILURE);
      throw error;
    }
    await mkdir(dir, { recursive: true });
    await unpackArchive(file, dir);
    return summary.files;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
