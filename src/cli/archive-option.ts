// `--archive PROBE=PATH` and `--archive PROBE.NAME=PATH` of `job run` and
// `job submit`: Hubris archives in the job's input for its HUMILITY_ENVIRONMENT.
// Checked against the --input directory before anything is sent, with the
// agent's own path rules; which probe names exist only the agent knows.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARCHIVE_NAME,
  archivePathProblem,
  normalizeInputPath,
  type HumilityArchive,
} from '../config/humility-archive.js';
import { CliError, EXIT_USAGE } from './exit-codes.js';

const EXAMPLE = 'e.g. --archive sp=build/gimlet-c.zip, or --archive rot.a=build/rot-a.zip';

export function parseArchiveOptions(
  pairs: readonly string[],
  inputDir: string | undefined,
): Record<string, HumilityArchive> {
  if (inputDir === undefined)
    throw new CliError("--archive names a file in the job's input: give --input DIR too", EXIT_USAGE);
  const single: Record<string, string> = {};
  const named: Record<string, Record<string, string>> = {};
  for (const pair of pairs) {
    const fail = (why: string): never => {
      throw new CliError(`--archive "${pair}": ${why}`, EXIT_USAGE);
    };
    const equals = pair.indexOf('=');
    if (equals <= 0) fail(`expected PROBE=PATH or PROBE.NAME=PATH (${EXAMPLE})`);
    const key = pair.slice(0, equals);
    const dot = key.indexOf('.');
    const probe = dot < 0 ? key : key.slice(0, dot);
    const name = dot < 0 ? undefined : key.slice(dot + 1);
    if (probe === '') fail(`name the probe's entry before the "." (${EXAMPLE})`);
    if (name !== undefined && !ARCHIVE_NAME.test(name))
      fail(`"${name}" is not an archive name (letters, digits, ".", "_", "-")`);
    const path = pair.slice(equals + 1);
    const problem = archivePathProblem(path, 'input');
    if (problem !== undefined) fail(`the path ${problem}`);
    const relative = normalizeInputPath(path);
    const missing = notARegularFile(inputDir, relative);
    if (missing !== undefined) fail(`${relative} ${missing} in --input ${inputDir}`);

    if (
      name === undefined
        ? Object.hasOwn(named, probe) || Object.hasOwn(single, probe)
        : Object.hasOwn(single, probe) || Object.hasOwn(named[probe] ?? {}, name)
    ) {
      fail(`${name === undefined ? probe : `${probe}.${name}`} is given twice, or both with and without a name`);
    }
    if (name === undefined) single[probe] = relative;
    else named[probe] = { ...named[probe], [name]: relative };
  }
  return { ...single, ...named };
}

/**
 * Why `relative` would not arrive as a regular file: the input is packed
 * without following symlinks, so one anywhere on the way drops the file.
 */
function notARegularFile(dir: string, relative: string): string | undefined {
  const parts = relative.split('/');
  for (let i = 1; i <= parts.length; i += 1) {
    let info;
    try {
      info = lstatSync(join(dir, ...parts.slice(0, i)));
    } catch {
      return 'does not exist';
    }
    if (info.isSymbolicLink()) return 'goes through a symbolic link (not sent with the input)';
    if (i < parts.length && !info.isDirectory()) return 'does not exist';
    if (i === parts.length && !info.isFile()) return 'is not a regular file';
  }
  return undefined;
}
