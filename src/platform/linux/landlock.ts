// Landlock's abstract-Unix-socket scope for jobs (DESIGN §8). Abstract sockets
// (`\0name`) belong to the network namespace, which jobs share with the host,
// so two jobs could talk through one. A launcher makes the system calls Node
// cannot: inside the sandbox, as the worker, it scopes itself and execs the
// rest of the job's chain. The probe here tells the operator at start what
// jobs get on this kernel, and each job's launcher is told that ABI: where
// the agent promised the scope, a job that cannot get it (a seccomp filter,
// another kernel state inside the job) does not run at all, rather than run
// unscoped; on an older kernel it runs as it is. The launcher is native
// (libexec/labslot-landlock.c, compiled by the build) when the build had a
// C compiler, else python3 with libexec/labslot-landlock: the same contract,
// without python3's start-up (~10 ms of CPU per job).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IsolationNote } from '../platform.js';
import { lastLines, runProcess } from '../run-process.js';

/** In the package (package.json "files"), beside dist/ in a build and src/ in a checkout. */
export const LANDLOCK_PYTHON_LAUNCHER = fileURLToPath(new URL('../../../libexec/labslot-landlock', import.meta.url));
/** What scripts/build-libexec.mjs compiles: the package's dist/libexec, from dist/ and src/ alike. */
export const LANDLOCK_NATIVE_LAUNCHER = fileURLToPath(
  new URL('../../../dist/libexec/labslot-landlock', import.meta.url),
);
/** The first Landlock ABI with LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (Linux 6.12). */
export const SCOPE_ABI = 6;
/** The launcher's exit when it was told to expect the scope (ABI 6 or later) and could not establish it. */
export const SCOPE_REFUSED_EXIT = 122;
/** Isolated mode: nothing of the job's environment steers the interpreter; no site-packages to load. */
const PYTHON = ['python3', '-I', '-S'];
const PROBE_TIMEOUT_MS = 10_000;

export interface LandlockLauncher {
  kind: 'native' | 'python3';
  /** Followed by `--abi`, or by `--scope --expect-abi N [--report-fd FD] -- COMMAND...` (landlockScope). */
  argv: readonly string[];
  /** The sandbox binds this read-only at the same path, so the launcher is there whatever the job's mounts hide. */
  dir: string;
  /** Why the native launcher the build made was passed over (it does not run on this host). */
  nativeFailed?: string;
}

export function nativeLauncher(path = LANDLOCK_NATIVE_LAUNCHER): LandlockLauncher {
  return { kind: 'native', argv: [path], dir: dirname(path) };
}

export function pythonLauncher(path = LANDLOCK_PYTHON_LAUNCHER): LandlockLauncher {
  return { kind: 'python3', argv: [...PYTHON, path], dir: dirname(path) };
}

let chosen: LandlockLauncher | undefined;

/**
 * The one place that picks the launcher, once per process: the launcher the
 * agent's start-up probe vouched for is the one every job runs, even if a
 * build adds or removes the native one meanwhile.
 */
export function landlockLauncher(): LandlockLauncher {
  chosen ??= chooseLauncher(LANDLOCK_NATIVE_LAUNCHER);
  return chosen;
}

/**
 * The native launcher at `nativePath` if there is one and it runs here, else python3: a binary built for
 * another architecture, or against a newer libc, would otherwise keep the agent from starting.
 */
export function chooseLauncher(nativePath: string): LandlockLauncher {
  if (!existsSync(nativePath)) return pythonLauncher();
  const probe = spawnSync(nativePath, ['--abi'], {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Only a binary that could not be run at all is passed over (126, 127: what a shell says of one it cannot
  // execute). One that ran and failed keeps its own error, which the start-up probe then reports.
  const notRun = probe.error !== undefined || probe.status === 126 || probe.status === 127;
  if (!notRun) return nativeLauncher(nativePath);
  const why = probe.error?.message ?? (lastLines(probe.stderr, 1) || `exit ${String(probe.status)}`);
  return { ...pythonLauncher(), nativeFailed: `${nativePath} --abi: ${why}` };
}

export class LandlockProbeError extends Error {
  override readonly name = 'LandlockProbeError';
}

/**
 * Prefixed to a command: `expectedAbi` is what landlockAbi found at start. From ABI 6 the command runs
 * scoped or not at all (exit SCOPE_REFUSED_EXIT); below, as it is. The launcher also writes why it did
 * not run the command to `reportFd`, which the command never inherits: a channel the job cannot forge.
 */
export function landlockScope(expectedAbi: number, launcher = landlockLauncher(), reportFd?: number): string[] {
  if (!Number.isSafeInteger(expectedAbi) || expectedAbi < 0) throw new RangeError(`bad Landlock ABI ${expectedAbi}`);
  const report = reportFd === undefined ? [] : ['--report-fd', String(reportFd)];
  return [...launcher.argv, '--scope', '--expect-abi', String(expectedAbi), ...report, '--'];
}

/** The kernel's Landlock ABI (0: none), asked through the same launcher the jobs run. */
export async function landlockAbi(signal?: AbortSignal, launcher = landlockLauncher()): Promise<number> {
  const result = await runProcess([...launcher.argv, '--abi'], {
    timeoutMs: PROBE_TIMEOUT_MS,
    signal,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  const text = result.output.trim();
  const command = launcher.argv.join(' ');
  if (result.spawnError !== undefined)
    throw new LandlockProbeError(`cannot run ${command}: ${result.spawnError.message}`);
  if (result.code !== 0 || !/^\d+$/.test(text))
    throw new LandlockProbeError(
      `${command} --abi failed (${result.timedOut ? 'timed out' : `exit ${String(result.code ?? result.signal)}`}): ${lastLines(text, 3)}`,
    );
  return Number(text);
}

/** What a job gets on a kernel with this ABI, as the agent logs it at start (and which launcher it pays for). */
export function landlockNote(abi: number, launcher = landlockLauncher()): IsolationNote {
  const fields = {
    abi,
    launcher: launcher.kind,
    ...(launcher.nativeFailed === undefined ? {} : { native_failed: launcher.nativeFailed }),
  };
  return abi >= SCOPE_ABI
    ? { level: 'info', message: `landlock ABI ${abi}: abstract Unix sockets are scoped per job`, fields }
    : {
        level: 'warn',
        message: `kernel lacks Landlock ABI ${SCOPE_ABI} (has ${abi}): jobs can reach each other's abstract Unix sockets; upgrade to kernel 6.12+`,
        fields,
      };
}
