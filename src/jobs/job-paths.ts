// Where a job's and a worker's files live under the state directory. Job
// output outlives the worker (it is what people read after a failure); the
// worker's directories go with its cleanup.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function jobDir(stateDir: string, jobId: string): string {
  return join(stateDir, 'jobs', jobId);
}

export function jobOutputPath(stateDir: string, jobId: string): string {
  return join(jobDir(stateDir, jobId), 'output.log');
}

export function workersDir(stateDir: string): string {
  return join(stateDir, 'workers');
}

export function workerRoot(stateDir: string, workerId: string): string {
  return join(workersDir(stateDir), workerId);
}

/** The writable directories of a worker, owned by its user with mode 0700. */
export function workerDirs(root: string): { home: string; work: string; tmp: string; varTmp: string; output: string } {
  return { home: join(root, 'home'), work: join(root, 'work'), tmp: join(root, 'tmp'), varTmp: join(root, 'var-tmp'), output: join(root, 'output') };
}

/** Where the agent puts the `labslot` command that jobs find on their PATH. */
export function commandDir(stateDir: string): string {
  return join(stateDir, 'bin');
}

/** Where the job writes files to keep ($LABSLOT_OUTPUT). */
export const OUTPUT_IN_JOB = '/output';

/** Where the job sees its input: read-only, extracted from the archive it was sent. */
export const INPUT_IN_JOB = '/input';

/** The extracted input archive, bound read-only at /input. */
export function jobInputDir(stateDir: string, jobId: string): string {
  return join(jobDir(stateDir, jobId), 'input');
}

/** What a job left under $LABSLOT_OUTPUT, kept after cleanup. */
export function jobOutputsArchive(stateDir: string, jobId: string): string {
  return join(jobDir(stateDir, jobId), 'outputs.tar');
}

/** Made at submission, so followers of a queued job have a file to wait on. */
export async function createOutputFile(stateDir: string, jobId: string): Promise<void> {
  await mkdir(jobDir(stateDir, jobId), { recursive: true, mode: 0o700 });
  await writeFile(jobOutputPath(stateDir, jobId), '', { mode: 0o600, flag: 'a' });
}
