// The phases of one lease (LeaseRun), each carrying what that phase needs and
// nothing it does not: a stop asked for before the job runs is kept until it
// can take effect, a running job has its worker and exit, a stopping one its
// cause and stop sequence, a cleaning one its outcome.
import type { JobExit } from '../platform/platform.js';
import type { JobOutcome, StopCause } from './job-outcome.js';
import type { PreparedWorker } from './worker-setup.js';

/** Where the lease has left its slot's usage by the time the job is over (see src/slots/slot-usage.ts). */
export type LeaseSlotUsage = 'leased' | 'running';

export type LeasePhase =
  /** The fresh pre-lease check of every device. A stop here is kept: a cancel sends the slot straight back. */
  | { kind: 'checking'; stop: StopCause | undefined }
  /** The worker (user, directories, grants) is being made. A stop here ends the job before it starts. */
  | { kind: 'setting-up'; stop: StopCause | undefined }
  /** The worker exists; the job's process is being started. */
  | { kind: 'starting'; worker: PreparedWorker; stop: StopCause | undefined }
  /** The job runs. `slot` says whether its start was recorded (running) or not (still leased). */
  | { kind: 'running'; worker: PreparedWorker; slot: LeaseSlotUsage }
  /**
   * The job is asked to stop; the first cause decides its outcome. `sequence` (SIGTERM, grace, SIGKILL)
   * is undefined while a job that marked its slot broken gets a moment to exit on its own.
   */
  | {
      kind: 'stopping';
      worker: PreparedWorker;
      slot: LeaseSlotUsage;
      cause: StopCause;
      sequence: Promise<void> | undefined;
    }
  /** The job is over with `outcome`; its worker is being cleaned up, after any stop sequence still under way. */
  | { kind: 'cleaning'; outcome: JobOutcome; from: LeaseSlotUsage; sequence: Promise<void> | undefined }
  /**
   * Nothing more to do: the job went back to the queue (pre-lease check failed), the slot is idle,
   * the cleanup failed (slot held), or a step could not be recorded (the reconciler finishes it).
   */
  | { kind: 'done'; end: 'queued' | 'idle' | 'cleanup-failed' | 'unrecorded' };

/** The values a transition's log line carries beside from and to. */
export function phaseFields(phase: LeasePhase): Record<string, unknown> {
  switch (phase.kind) {
    case 'stopping':
      return { cause: phase.cause.kind };
    case 'cleaning':
      return { state: phase.outcome.state, reason: phase.outcome.reason };
    case 'done':
      return { end: phase.end };
    case 'running':
      return { slotUsage: phase.slot };
    default:
      return {};
  }
}

/** The stop asked for so far, in any phase before the job is over. */
export function stopOf(phase: LeasePhase): StopCause | undefined {
  switch (phase.kind) {
    case 'checking':
    case 'setting-up':
    case 'starting':
      return phase.stop;
    case 'stopping':
      return phase.cause;
    default:
      return undefined;
  }
}

/** Where the slot's usage is: running once the job's start was recorded, leased until then. */
export function slotUsageOf(phase: LeasePhase): LeaseSlotUsage {
  return phase.kind === 'running' || phase.kind === 'stopping' ? phase.slot : 'leased';
}

/** The worker, once it exists and until the job is over. */
export function workerOf(phase: LeasePhase): PreparedWorker | undefined {
  return phase.kind === 'starting' || phase.kind === 'running' || phase.kind === 'stopping' ? phase.worker : undefined;
}

/** A job whose process survived every SIGKILL: the lease goes on to cleanup without its exit. */
export const ABANDONED_EXIT: JobExit = { code: null, signal: null, abandoned: true };
