// Hubris archives for humility's environment file. humility-cli/src/env.rs
// takes an entry's `archive` as one path, or as an object of named paths of
// which `humility --archive-name NAME` picks one; both shapes are accepted
// here, with host paths in the config and paths inside the job's input in a
// submission. No zod: the CLI checks `--archive` with these functions too.
import { posix } from 'node:path';

/** One archive, or archives by name (humility's `--archive-name`). */
export type HumilityArchive = string | Readonly<Record<string, string>>;

/** Where a path must lie: on the host (config), or inside the job's input (a submission). */
export type ArchivePlace = 'host' | 'input';

/**
 * `--archive-name` values: a shell word with no "=" (so `--archive sp.NAME=PATH`
 * splits one way only), starting with a letter or digit.
 */
export const ARCHIVE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ARCHIVE_NAME_RULE = 'is not an archive name (letters, digits, ".", "_", "-"; at most 64)';
const MAX_PATH = 4096;

export interface ArchiveIssue {
  /** Below the archive's own key: [] for the value, [NAME] for one named path. */
  path: string[];
  message: string;
}

export type ArchiveResult = { ok: true; archive: HumilityArchive } | { ok: false; issues: ArchiveIssue[] };

/** Why `path` cannot name an archive at `place`, or undefined when it can. */
export function archivePathProblem(path: string, place: ArchivePlace): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.includes('\0')) return 'must not contain NUL characters';
  if (path.length > MAX_PATH) return `must be at most ${MAX_PATH} characters`;
  if (path.endsWith('/'))
    return 'names a directory; an archive is a file (e.g. build/gimlet-c/dist/default/build-gimlet-c.zip)';
  if (place === 'host')
    return path.startsWith('/')
      ? undefined
      : 'must be an absolute path on this host (e.g. /var/lib/hubris/gimlet-c.zip)';
  if (path.startsWith('/')) return "must be relative to the job's input (build/sp.zip for /input/build/sp.zip)";
  if (path.split('/').includes('..')) return 'must not climb out of the input with ".."';
  if (posix.normalize(path) === '.') return 'names the input directory itself; an archive is a file in it';
  return undefined;
}

/** A path inside the input as one spelling: "./build//sp.zip" is "build/sp.zip". */
export function normalizeInputPath(path: string): string {
  return posix.normalize(path);
}

/** Checks one `archive` value: a path, or a non-empty table of named paths. Input paths come back normalized. */
export function parseArchive(value: unknown, place: ArchivePlace): ArchiveResult {
  const checkPath = (path: string, at: string[]): ArchiveIssue | undefined => {
    const problem = archivePathProblem(path, place);
    return problem === undefined ? undefined : { path: at, message: problem };
  };
  const fix = (path: string): string => (place === 'input' ? normalizeInputPath(path) : path);
  if (typeof value === 'string') {
    const issue = checkPath(value, []);
    return issue ? { ok: false, issues: [issue] } : { ok: true, archive: fix(value) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      issues: [
        {
          path: [],
          message:
            'must be a path, or a table of named paths ({ a = "...", b = "..." }) chosen with humility --archive-name',
        },
      ],
    };
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0)
    return { ok: false, issues: [{ path: [], message: 'names no archive: give a path, or at least one NAME = path' }] };
  const issues: ArchiveIssue[] = [];
  const named: Record<string, string> = {};
  for (const [name, path] of entries) {
    if (!ARCHIVE_NAME.test(name)) issues.push({ path: [name], message: `"${name}" ${ARCHIVE_NAME_RULE}` });
    else if (typeof path !== 'string') issues.push({ path: [name], message: 'must be a path (a string)' });
    else {
      const issue = checkPath(path, [name]);
      if (issue) issues.push(issue);
      else named[name] = fix(path);
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, archive: named };
}

/** Every path of an archive value, with its name (undefined for the single-path form). */
export function archivePaths(archive: HumilityArchive): { name: string | undefined; path: string }[] {
  return typeof archive === 'string'
    ? [{ name: undefined, path: archive }]
    : Object.entries(archive).map(([name, path]) => ({ name, path }));
}

/** The same archive with every path passed through `map`. */
export function mapArchive(archive: HumilityArchive, map: (path: string) => string): HumilityArchive {
  return typeof archive === 'string'
    ? map(archive)
    : Object.fromEntries(Object.entries(archive).map(([name, path]) => [name, map(path)]));
}
