// Tests that need root, a namespace or a Debian package call `requires(...)`.
// Outside CI a missing prerequisite skips the test with the reason printed;
// with CI=true it fails the test, because a quietly skipped test proves nothing.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const IN_CI = process.env['CI'] === 'true';

export interface Prerequisite {
  what: string;
  met: () => boolean;
}

export const ROOT: Prerequisite = { what: 'running as root', met: () => process.getuid?.() === 0 };

export function command(name: string, args: string[] = ['--version']): Prerequisite {
  return {
    what: `the command "${name}"`,
    met: () => spawnSync(name, args, { stdio: 'ignore', timeout: 10_000 }).status === 0,
  };
}

/** Returns true when the test may go on; otherwise it has been skipped or failed. */
export function requires(t: TestContext, ...prerequisites: Prerequisite[]): boolean {
  const missing = prerequisites.filter((p) => !p.met()).map((p) => p.what);
  if (missing.length === 0) return true;
  const reason = `missing prerequisite: ${missing.join(', ')}`;
  if (IN_CI) throw new Error(`${reason} (CI=true: .ci/run must provide it)`);
  t.skip(reason);
  return false;
}
