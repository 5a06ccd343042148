// A worker's writable space as a filesystem of its own (issue 12 item 4): an
// ext4 image in the worker's directory, allocated in full (fallocate, so a
// job can never fill the state directory's disk, and a full host disk fails
// the lease instead of the job's writes turning into I/O errors), then
// loop-mounted nosuid,nodev. Every path is derived from the worker's root,
// which is in the database before any of this exists, so release finds what a
// crash at any step left: a mount, a loop device, an image.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, unlink } from 'node:fs/promises';
import type { WorkerDisk } from '../platform.js';
import { lastLines, runProcess } from '../run-process.js';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const STEP_TIMEOUT_MS = 60_000;

export class WorkerDiskError extends Error {
  override readonly name = 'WorkerDiskError';
}

async function run(argv: string[], what: string): Promise<string> {
  const result = await runProcess(argv, { timeoutMs: STEP_TIMEOUT_MS, env: ENV });
  if (result.spawnError)
    throw new WorkerDiskError(`cannot run ${argv[0] ?? ''} to ${what}: ${result.spawnError.message}`, {
      cause: result.spawnError,
    });
  if (result.code !== 0)
    throw new WorkerDiskError(
      `${what} failed${result.timedOut ? ' (timed out)' : ''}: ${lastLines(result.output, 2) || `exit ${String(result.code)}`}`,
    );
  return result.output;
}

/** Makes `disk.mountPoint` (root-owned 0755) a filesystem of `bytes`. */
export async function createWorkerDisk(disk: WorkerDisk, bytes: number): Promise<void> {
  await mkdir(disk.mountPoint, { mode: 0o755 });
  try {
    await run(['fallocate', '-l', String(bytes), disk.image], `reserving ${bytes} bytes for the job's disk`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/No space left/i.test(message))
      throw new WorkerDiskError(
        `the state directory has no room for this job's disk of ${bytes} bytes ([jobs] limits.disk)`,
        { cause: error },
      );
    // A filesystem without fallocate (some network or FUSE ones): a sparse image still caps the job, but does not reserve its space.
    if (!/not supported/i.test(message)) throw error;
    await run(['truncate', '-s', String(bytes), disk.image], `sizing the job's disk image`);
  }
  // No journal: the filesystem lives as long as the job, and a crash throws it away anyway. No reserved blocks: it is all the job's.
  await run(
    ['mkfs.ext4', '-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'root_owner=0:0,nodiscard', disk.image],
    "making the job's filesystem",
  );
  await run(
    ['mount', '-t', 'ext4', '-o', 'loop,nosuid,nodev', disk.image, disk.mountPoint],
    "mounting the job's filesystem",
  );
  await rmdir(`${disk.mountPoint}/lost+found`).catch(() => undefined);
}

/** Unmounts, detaches and deletes whatever exists of the disk; nothing there is fine. Frees the space before anything else of cleanup needs any. */
export async function releaseWorkerDisk(disk: WorkerDisk): Promise<void> {
  // Deepest first: a mount a job could not make, but an agent that crashed mid-mount may have stacked.
  for (const target of mountsAtOrUnder(disk.mountPoint).reverse()) {
    await run(['umount', target], `unmounting ${target}`);
  }
  for (const device of loopDevicesOf(disk.image)) {
    await run(['losetup', '-d', device], `detaching ${device}`).catch(() => undefined); // autoclear may have won the race
  }
  // unlink, not fs.rm: on EPERM fs.rm retries as a directory and reports ENOTDIR, hiding the cause.
  await unlink(disk.image).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
}

/** Mount points at `path` or below it, in mount order. */
export function mountsAtOrUnder(path: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((target) => target === path || target.startsWith(`${path}/`));
}

/** Loop devices whose backing file is `image` (still there or deleted). */
export function loopDevicesOf(image: string): string[] {
  const found: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/sys/block').filter((name) => /^loop\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of entries) {
    try {
      const back = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      if (back === image || back === `${image} (deleted)`) found.push(`/dev/${name}`);
    } catch {
      // Not attached.
    }
  }
  return found;
}

function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
