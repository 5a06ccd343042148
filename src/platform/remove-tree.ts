// Removes a directory tree a job may have shaped to resist removal: deeper
// than PATH_MAX (Node's fs.rm fails with ENAMETOOLONG), full of symlinks, or
// with a mount on it. GNU rm walks with openat, never follows symlinks, and
// stays on one filesystem.
import { lastLines, runProcess } from './run-process.js';

const RM_TIMEOUT_MS = 120_000;

export async function removeTree(path: string, signal?: AbortSignal): Promise<void> {
  const result = await runProcess(['rm', '-rf', '--one-file-system', '--', path], {
    timeoutMs: RM_TIMEOUT_MS,
    signal,
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
  });
  if (result.spawnError) throw new Error(`cannot run rm: ${result.spawnError.message}`, { cause: result.spawnError });
  if (result.code !== 0)
    throw new Error(
      `rm -rf ${path} failed${result.timedOut ? ' (timed out)' : ''}: ${lastLines(result.output, 2) || `exit ${String(result.code)}`}`,
    );
}
