// Computes a job's JSON shape (api/job.ts) from its row.
import { statSync } from 'node:fs';
import type { JobView } from '../api/job.js';
import type { jobs, JobState } from '../db/schema.js';
import { jobOutputPath } from './job-paths.js';

export type JobRow = typeof jobs.$inferSelect;

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

export function jobView(row: JobRow, stateDir: string): JobView {
  return {
    id: row.id,
    target: row.target,
    state: row.state,
    slot: row.slot,
    worker_id: row.workerId,
    requested_slot: row.requestedSlot,
    allow_held_by: row.allowHeldBy,
    argv: row.argv,
    script: row.script,
    env: row.env,
    priority: row.priority,
    timeout_ms: row.timeoutMs,
    submitted_by: row.submittedBy,
    submitted_at: iso(row.submittedAt),
    started_at: row.startedAt === null ? null : iso(row.startedAt),
    ended_at: row.endedAt === null ? null : iso(row.endedAt),
    exit_code: row.exitCode,
    signal: row.signal,
    end_reason: row.endReason,
    ended_by: row.endedBy,
    infrastructure: row.infrastructure,
    waiting: row.state === 'queued' ? row.waiting : null,
    input: row.input,
    archives: row.archives,
    outputs_bytes: row.outputsBytes,
    done: isFinal(row.state),
    output_bytes: outputBytes(stateDir, row.id),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function outputBytes(stateDir: string, jobId: string): number {
  try {
    return statSync(jobOutputPath(stateDir, jobId)).size;
  } catch {
    return 0;
  }
}
