// A real way to make a Landlock system call fail for one process tree, as a
// container runtime's seccomp filter would, without touching the host:
// syscall-errno.c, compiled per test with the host's C compiler.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { command, type Prerequisite } from './prerequisites.js';
import { tempDir } from './temp-dir.js';

const SOURCE = fileURLToPath(new URL('./syscall-errno.c', import.meta.url));

/** The same numbers on every architecture (the syscall table was unified before Landlock). */
export const LANDLOCK_CREATE_RULESET = 444;
export const LANDLOCK_RESTRICT_SELF = 446;
export const { ENOSYS, EOPNOTSUPP, EPERM } = constants.errno;

/** Calls whose numbers differ by architecture, on the ones this project is built and tested on. */
const NUMBERS = {
  sched_setscheduler: { x64: 144, arm64: 119 },
  prlimit64: { x64: 302, arm64: 261 },
} as const satisfies Record<string, Partial<Record<NodeJS.Architecture, number>>>;

export function syscallNumber(name: keyof typeof NUMBERS): number {
  const number = (NUMBERS[name] as Partial<Record<NodeJS.Architecture, number>>)[process.arch];
  if (number === undefined) throw new Error(`the ${name} syscall number for ${process.arch} is not known here`);
  return number;
}

/** What compiling the helper needs (the build's native launcher needs it too). */
export const C_COMPILER: Prerequisite = command('cc');

/**
 * Compiles the helper into the test's temp directory and returns the prefix that runs a command with
 * `syscall` failing with `errno`: `[...prefix, COMMAND, ARG...]`.
 */
export function syscallErrno(t: TestContext): (syscall: number, errno: number) => string[] {
  const binary = join(tempDir(t), 'syscall-errno');
  const built = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, SOURCE], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cannot compile ${SOURCE}: ${built.stderr}`);
  return (syscall, errno) => [binary, String(syscall), String(errno), '--'];
}
