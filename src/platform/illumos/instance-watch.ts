// Following a worker instance from `svcadm enable` to the job's end. The
// start method reports in the instance log (illumos/worker-method.ts), which
// is cheap to poll; svc.startd's state is asked less often, to notice an
// instance that ended without a report (a start method that could not run,
// or was killed). Everything the watch touches comes through `InstanceProbe`,
// so its decisions are tested without an illumos host.
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SvcsState } from './commands.js';
import { exitFromRecords, parseWorkerRecords, type WorkerRecord } from './worker-method.js';
import type { JobExit } from '../platform.js';

export interface InstanceProbe {
  /** What the instance log gained from byte `offset` on; empty when nothing (or no log yet). */
  readLog(offset: number): Promise<Buffer>;
  /** svc.startd's state of the instance; undefined once the instance does not exist. */
  state(): Promise<SvcsState | undefined>;
  /** Runs with every state check while the job runs (the LWP sample for limit verdicts). */
  sample?(): Promise<void>;
}

export interface WatchOptions {
  /** Size of the log before `svcadm enable`: older lines belong to nobody. */
  logOffset: number;
  pollMs: number;
  /** Ask svc.startd every this many polls. */
  stateEvery: number;
  /** How long the job may take to start before `started` gives up. */
  startTimeoutMs: number;
  /** Consecutive failed polls (svcs, the log) before the watch gives up. */
  maxFailures: number;
}

export type StartResult = { kind: 'started'; pid: number } | { kind: 'ended'; exit: JobExit } | { kind: 'timeout' };

export interface InstanceWatch {
  started: Promise<StartResult>;
  /** Never rejects: an instance that cannot be followed any more ends with an unknown status. */
  exited: Promise<JobExit>;
}

/** States in which svc.startd is done with a transient instance. */
const FINAL_STATES = new Set(['online', 'degraded', 'maintenance', 'disabled']);

export function watchInstance(probe: InstanceProbe, options: WatchOptions, signal: AbortSignal): InstanceWatch {
  let resolveStarted: (result: StartResult) => void = () => undefined;
  const started = new Promise<StartResult>((resolve) => (resolveStarted = resolve));
  const exited = follow(probe, options, signal, resolveStarted).then(
    (exit) => {
      resolveStarted({ kind: 'ended', exit });
      return exit;
    },
    (error: unknown): JobExit => {
      const exit: JobExit = {
        code: null,
        signal: null,
        spawnError: `lost track of the worker instance: ${error instanceof Error ? error.message : String(error)}`,
      };
      resolveStarted({ kind: 'ended', exit });
      return exit;
    },
  );
  return { started, exited };
}

async function follow(
  probe: InstanceProbe,
  options: WatchOptions,
  signal: AbortSignal,
  onStarted: (result: StartResult) => void,
): Promise<JobExit> {
  const since = Date.now();
  let offset = options.logOffset;
  let pending = '';
  const records: WorkerRecord[] = [];
  let startedSeen = false;
  // `svcadm enable` is asynchronous: "disabled" means done only once the instance has been anything else.
  let leftDisabled = false;

  const readRecords = async (): Promise<void> => {
    const chunk = await probe.readLog(offset);
    offset += chunk.length;
    pending += chunk.toString('utf8');
    const end = pending.lastIndexOf('\n');
    if (end < 0) return;
    records.push(...parseWorkerRecords(pending.slice(0, end + 1)));
    pending = pending.slice(end + 1);
  };

  let failures = 0;
  for (let poll = 0; ; poll += 1) {
    if (signal.aborted) return { code: null, signal: null };
    try {
      await readRecords();
      const first = records.find((r) => r.kind === 'started');
      if (first?.kind === 'started' && !startedSeen) {
        startedSeen = true;
        onStarted({ kind: 'started', pid: first.pid });
      }
      const exit = exitFromRecords(records);
      if (exit) return exit;

      if (poll % options.stateEvery === 0) {
        const state = await probe.state();
        if (state === undefined) {
          await readRecords();
          return exitFromRecords(records, 'deleted') ?? { code: null, signal: null };
        }
        if (state.state !== 'disabled' || state.next !== '-') leftDisabled = true;
        if (state.next === '-' && FINAL_STATES.has(state.state) && (state.state !== 'disabled' || leftDisabled)) {
          // svc.startd saw the start method exit after it wrote its last record: read once more.
          await readRecords();
          return exitFromRecords(records, state.state) ?? { code: null, signal: null };
        }
        if (startedSeen) await probe.sample?.().catch(() => undefined);
      }
      failures = 0;
    } catch (error) {
      // A busy svc.configd or a slow svcs is no reason to give up on a job that may run for hours.
      failures += 1;
      if (failures >= options.maxFailures) {
        const why = `lost track of the worker instance: ${error instanceof Error ? error.message : String(error)}`;
        return startedSeen ? { code: null, signal: null } : { code: null, signal: null, spawnError: why };
      }
    }
    if (!startedSeen && Date.now() - since > options.startTimeoutMs) onStarted({ kind: 'timeout' });
    try {
      await sleep(options.pollMs, undefined, { signal });
    } catch {
      return { code: null, signal: null };
    }
  }
}

/** The log's size now, 0 when it does not exist yet. */
export async function logSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/** At most 1 MiB of the log from `offset`; nothing when it does not exist (yet). */
export async function readLogFrom(file: string, offset: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
