// Landlock's abstract-Unix-socket scope for jobs (DESIGN §8). Abstract sockets
// (`\0name`) belong to the network namespace, which jobs share with the host,
// so two jobs could talk through one. libexec/labslot-landlock (python3, a
// host requirement already) makes the system calls Node cannot: inside the
// sandbox, as the worker, it scopes itself and execs the rest of the job's
// chain. It decides per job from the kernel's ABI and fails closed; the probe
// here only tells the operator at start what jobs get on this kernel.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IsolationNote } from '../platform.js';
import { lastLines, runProcess } from '../run-process.js';

/** In the package (package.json "files"), beside dist/ in a build and src/ in a checkout. */
export const LANDLOCK_LAUNCHER = fileURLToPath(new URL('../../../libexec/labslot-landlock', import.meta.url));
/** The sandbox binds this read-only at the same path, so the launcher is there whatever the job's mounts hide. */
export const LANDLOCK_LAUNCHER_DIR = dirname(LANDLOCK_LAUNCHER);
/** The first Landlock ABI with LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (Linux 6.12). */
export const SCOPE_ABI = 6;
/** Isolated mode: nothing of the job's environment steers the interpreter; no site-packages to load. */
const PYTHON = ['python3', '-I', '-S'];
const PROBE_TIMEOUT_MS = 10_000;

export class LandlockProbeError extends Error {
  override readonly name = 'LandlockProbeError';
}

/** Prefixed to a command: the command runs scoped (ABI 6 and later) or as it is (older kernels). */
export function landlockScope(): string[] {
  return [...PYTHON, LANDLOCK_LAUNCHER, '--scope', '--'];
}

/** The kernel's Landlock ABI (0: none), asked through the same launcher the jobs run. */
export async function landlockAbi(signal?: AbortSignal, launcher = LANDLOCK_LAUNCHER): Promise<number> {
  const result = await runProcess([...PYTHON, launcher, '--abi'], {
    timeoutMs: PROBE_TIMEOUT_MS,
    signal,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  const text = result.output.trim();
  if (result.spawnError !== undefined)
    throw new LandlockProbeError(`cannot run python3 for ${launcher}: ${result.spawnError.message}`);
  if (result.code !== 0 || !/^\d+$/.test(text))
    throw new LandlockProbeError(
      `${launcher} --abi failed (${result.timedOut ? 'timed out' : `exit ${String(result.code ?? result.signal)}`}): ${lastLines(text, 3)}`,
    );
  return Number(text);
}

/** What a job gets on a kernel with this ABI, as the agent logs it at start. */
export function landlockNote(abi: number): IsolationNote {
  return abi >= SCOPE_ABI
    ? { level: 'info', message: `landlock ABI ${abi}: abstract Unix sockets are scoped per job`, fields: { abi } }
    : {
        level: 'warn',
        message: `kernel lacks Landlock ABI ${SCOPE_ABI} (has ${abi}): jobs can reach each other's abstract Unix sockets; upgrade to kernel 6.12+`,
        fields: { abi },
      };
}
