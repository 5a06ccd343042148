// Where a job's and a worker's files live under the state directory. Job
// output outlives the worker (it is what people read after a failure); the
// worker's directories go with its cleanup.
import { mkdirSync, writeFileSync } from 'node:fs';
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

/** The worker's writable space ([jobs] limits.disk): one filesystem holding all its writable directories, and the image behind it. */
export function workerDisk(root: string): { mountPoint: string; image: string } {
  return { mountPoint: join(root, 'disk'), image: join(root, 'disk.img') };
}

/** The writable directories of a worker, owned by its user with mode 0700, all on its disk. */
export function workerDirs(root: string): { home: string; work: string; tmp: string; varTmp: string; output: string } {
  const disk = workerDisk(root).mountPoint;
  return {
    home: join(disk, 'home'),
    work: join(disk, 'work'),
    tmp: join(disk, 'tmp'),
    varTmp: join(disk, 'var-tmp'),
    output: join(disk, 'output'),
  };
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

/** The same, synchronous: for a submission's transaction, which a full disk must roll back. */
export function createOutputFileSync(stateDir: string, jobId: string): void {
  mkdirSync(jobDir(stateDir, jobId), { recursive: true, mode: 0o700 });
  writeFileSync(jobOutputPath(stateDir, jobId), '', { mode: 0o600, flag: 'a' });
}
