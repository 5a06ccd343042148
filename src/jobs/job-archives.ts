// Tar archives in and out of jobs. An input archive comes from a submitter and
// lands read-only at /input; an output archive is made from what a job left
// under $LABSLOT_OUTPUT. Both directions hold only regular files and
// directories with plain relative paths: an entry with an absolute path, a
// "..", a symlink, a hard link or a device is refused by name, never
// "sanitized" into something else, and nothing a job wrote is followed.
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import * as tar from 'tar';
import { formatSize } from '../config/size.js';
import { plural } from '../words.js';

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

export interface ArchiveSummary {
  files: number;
  bytes: number;
}

const PLAIN_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
/** node-tar's names of the special entry types, in words ("CharacterDevice" is how tar says it, not a person). */
const ENTRY_KINDS: Readonly<Record<string, string>> = {
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a named pipe',
};

/** Why an entry may not be in an archive, or undefined when it may. */
export function entryProblem(path: string, type: string): string | undefined {
  if (path.includes('\0')) return 'has a NUL in its name';
  if (path.startsWith('/')) return 'is an absolute path';
  if (path.split('/').includes('..')) return 'climbs out with ".."';
  if (type === 'SymbolicLink') return 'is a symbolic link';
  if (type === 'Link') return 'is a hard link';
  if (!PLAIN_TYPES.has(type))
    return `is ${ENTRY_KINDS[type] ?? `an entry of tar type ${type}`}, not a file or directory`;
  return undefined;
}

/** Reads the whole archive and throws on the first entry that is not allowed. */
export async function checkArchive(file: string): Promise<ArchiveSummary> {
  const summary = { files: 0, bytes: 0 };
  let problem: string | undefined;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        const why = entryProblem(entry.path, entry.type);
        if (why !== undefined) problem ??= `"${entry.path}" ${why}`;
        if (entry.type !== 'Directory') {
          summary.files += 1;
          summary.bytes += entry.size;
        }
      },
    });
  } catch (error) {
    throw new ArchiveError(`not a readable tar archive: ${(error as Error).message}`, { cause: error });
  }
  if (problem !== undefined) throw new ArchiveError(`archive refused: ${problem}`);
  return summary;
}

/**
 * Unpacks an archive that checkArchive accepted into the existing `dir`. The
 * agent (job input) and the client (job outputs) both unpack through here; the
 * filter drops any entry the check would have refused, should one slip by.
 */
export async function unpackArchive(file: string, dir: string): Promise<void> {
  await tar.x({
    file,
    cwd: dir,
    strict: true,
    preserveOwner: false,
    filter: (path, entry) => 'type' in entry && entryProblem(path, entry.type) === undefined,
  });
}

/** Checks, then extracts into `dir` (made fresh), readable by everyone and owned by root. */
export async function extractArchive(file: string, dir: string): Promise<ArchiveSummary> {
  const summary = await checkArchive(file);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await unpackArchive(file, dir);
  await makeReadable(dir);
  return summary;
}

export interface TreeListing {
  /** Directories and regular files, parents before children, relative to the root. */
  entries: string[];
  /** Everything else (symlinks, sockets, devices): never archived. */
  skipped: string[];
  summary: ArchiveSummary;
}

/** Walks a tree without following anything. */
export async function listTree(dir: string): Promise<TreeListing> {
  const listing: TreeListing = { entries: [], skipped: [], summary: { files: 0, bytes: 0 } };
  const walk = async (relative: string): Promise<void> => {
    for (const name of await readdir(join(dir, relative))) {
      const path = relative === '' ? name : posix.join(relative, name);
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) {
        listing.entries.push(path);
        await walk(path);
      } else if (info.isFile()) {
        listing.entries.push(path);
        listing.summary.files += 1;
        listing.summary.bytes += info.size;
      } else {
        listing.skipped.push(path);
      }
    }
  };
  await walk('');
  return listing;
}

/** Exactly the listed entries: one per path, no recursion, no link followed, no owner or time noise. */
const PACK_OPTIONS = { portable: true, follow: false, noDirRecurse: true, strict: true } as const;

/** A tar stream of exactly these entries of `dir`. */
export function packEntries(dir: string, entries: readonly string[]): AsyncIterable<Buffer> {
  return tar.c({ ...PACK_OPTIONS, cwd: dir }, [...entries]);
}

/**
 * Archives the regular files and directories under `dir` into `file`.
 * Symlinks and special files are left out and named in `skipped`, and an
 * archive over `maxBytes` is not made at all.
 */
export async function createArchive(
  dir: string,
  file: string,
  maxBytes: number,
): Promise<{ ok: true; summary: ArchiveSummary; skipped: string[] } | { ok: false; reason: string }> {
  const { entries, skipped, summary } = await listTree(dir);
  if (summary.bytes > maxBytes)
    return {
      ok: false,
      reason: `${plural(summary.bytes, 'byte')} in ${plural(summary.files, 'file')}, over the limit of ${formatSize(maxBytes)}`,
    };
  if (entries.length === 0) return { ok: true, summary, skipped };
  await tar.c({ ...PACK_OPTIONS, file, cwd: dir }, entries);
  return { ok: true, summary, skipped };
}

async function makeReadable(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isDirectory()) {
      await chmod(path, 0o755);
      await makeReadable(path);
    } else if (info.isFile()) {
      await chmod(path, (info.mode & 0o111) !== 0 ? 0o755 : 0o644);
    }
  }
}
