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

/**
 * The disk's three steps in one shell, so making it starts one process instead of three (issue 17: every
 * process the agent starts stalls its event loop while it forks). Fixed text: the size, image and mount
 * point come in as "$1" "$2" "$3", never as code. Each step's failure exits with its own code (diskStep),
 * its tool's output on stderr. The image is sparse: reserveWorkerDisk allocates it once a job gets it, so
 * a worker made ahead of its job (worker-spares.ts) holds none of the host's disk.
 *   mkfs.ext4: no journal (the filesystem lives as long as the job, and a crash throws it away anyway), no
 *              reserved blocks (it is all the job's).
 */
const MAKE_DISK = [
  'truncate -s "$1" "$2" || exit 11',
  'mkfs.ext4 -q -F -m 0 -O ^has_journal -E root_owner=0:0,nodiscard "$2" || exit 12',
  'mount -t ext4 -o loop,nosuid,nodev "$2" "$3" || exit 13',
].join('\n');

/** What each exit of MAKE_DISK was doing, for the error. */
function diskStep(code: number | null): string {
  switch (code) {
    case 11:
      return "sizing the job's disk image";
    case 12:
      return "making the job's filesystem";
    case 13:
      return "mounting the job's filesystem";
    default:
      return "making the job's disk";
  }
}

/** Makes `disk.mountPoint` (root-owned 0755) a filesystem of `bytes`, its space not reserved yet. */
export async function createWorkerDisk(disk: WorkerDisk, bytes: number): Promise<void> {
  await mkdir(disk.mountPoint, { mode: 0o755 });
  const argv = ['/bin/sh', '-c', MAKE_DISK, 'labslot-disk', String(bytes), disk.image, disk.mountPoint];
  const result = await runProcess(argv, { timeoutMs: STEP_TIMEOUT_MS, env: ENV });
  if (result.spawnError)
    throw new WorkerDiskError(`cannot run /bin/sh to make the job's disk: ${result.spawnError.message}`, {
      cause: result.spawnError,
    });
  if (result.code !== 0)
    throw new WorkerDiskError(
      `${diskStep(result.code)} failed${result.timedOut ? ' (timed out)' : ''}: ${lastLines(result.output, 2) || `exit ${String(result.code)}`}`,
    );
  await rmdir(`${disk.mountPoint}/lost+found`).catch(() => undefined);
}

/**
 * Allocates the disk's image in full, so a job can never fill the state directory's disk, and a full host
 * disk fails the lease instead of the job's writes turning into I/O errors. On a filesystem without
 * fallocate (some network or FUSE ones) the sparse image still caps the job, without reserving its space.
 */
export async function reserveWorkerDisk(disk: WorkerDisk, bytes: number): Promise<void> {
  try {
    await run(['fallocate', '-l', String(bytes), disk.image], `reserving ${bytes} bytes for the job's disk`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The cause keeps "No space left on device": a full state directory is the host's problem, not the slot's.
    if (/No space left/i.test(message))
      throw new WorkerDiskError(
        `the state directory has no room for this job's disk of ${bytes} bytes ([jobs] limits.disk)`,
        { cause: error },
      );
    if (!/not supported/i.test(message)) throw error;
  }
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
