// How a job ended, decided once from what happened to it, in order of who is
// to blame: the lab (mark-broken, setup failure, agent restart or stop), the
// person who cancelled, the clock, then the job's own exit status.
import { formatDuration } from '../config/duration.js';
import type { JobEnd, JobState } from '../db/schema.js';

export interface JobOutcome {
  state: Extract<JobState, 'succeeded' | 'failed' | 'cancelled'>;
  exitCode: number | null;
  signal: string | null;
  reason: string;
  endedBy: JobEnd;
  /** The failure is the lab's, not the job's. */
  infrastructure: boolean;
  /** The slot itself is suspect (workers cannot be set up there): hold it once cleanup is done. */
  holdSlot?: boolean;
}

export type StopCause =
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'cancel'; by: string }
  | { kind: 'marked-broken'; message: string }
  | { kind: 'limit'; reason: string }
  | { kind: 'agent-error'; message: string }
  | { kind: 'agent-stopping' };

/**
 * What the audit event that gave a job its final state says about it, so
 * /v1/events shows how it ended and /metrics counts each job once.
 */
export function jobEndData(outcome: Pick<JobOutcome, 'state' | 'endedBy'>): {
  job_end: { state: JobOutcome['state']; ended_by: JobEnd };
} {
  return { job_end: { state: outcome.state, ended_by: outcome.endedBy } };
}

export function infrastructureFailure(reason: string): JobOutcome {
  return { state: 'failed', exitCode: null, signal: null, reason, endedBy: 'infrastructure', infrastructure: true };
}

export function decideOutcome(
  exit: { code: number | null; signal: string | null },
  cause: StopCause | undefined,
): JobOutcome {
  const { code, signal } = exit;
  switch (cause?.kind) {
    case 'marked-broken':
      return {
        state: 'failed',
        exitCode: code,
        signal,
        reason: `marked broken: ${cause.message}`,
        endedBy: 'infrastructure',
        infrastructure: true,
      };
    case 'agent-error':
      return {
        state: 'failed',
        exitCode: code,
        signal,
        reason: `agent error: ${cause.message}`,
        endedBy: 'infrastructure',
        infrastructure: true,
      };
    case 'limit':
      return { state: 'failed', exitCode: code, signal, reason: cause.reason, endedBy: 'limit', infrastructure: false };
    case 'agent-stopping':
      return {
        state: 'failed',
        exitCode: code,
        signal,
        reason: 'agent stopped while the job ran',
        endedBy: 'infrastructure',
        infrastructure: true,
      };
    case 'cancel':
      return {
        state: 'cancelled',
        exitCode: code,
        signal,
        reason: `cancelled by ${cause.by}`,
        endedBy: 'cancel',
        infrastructure: false,
      };
    case 'timeout':
      return {
        state: 'failed',
        exitCode: code,
        signal,
        reason: `timed out after ${formatDuration(cause.afterMs)}`,
        endedBy: 'timeout',
        infrastructure: false,
      };
    case undefined:
      if (code === 0)
        return {
          state: 'succeeded',
          exitCode: 0,
          signal: null,
          reason: 'exit code 0',
          endedBy: 'exit',
          infrastructure: false,
        };
      if (code !== null)
        return {
          state: 'failed',
          exitCode: code,
          signal: null,
          reason: `exit code ${code}`,
          endedBy: 'exit',
          infrastructure: false,
        };
      return {
        state: 'failed',
        exitCode: null,
        signal,
        reason: `killed by ${signal ?? 'a signal'}`,
        endedBy: 'signal',
        infrastructure: false,
      };
  }
}
