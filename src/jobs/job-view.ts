// The JSON shape of a job as the API and `labslot job status` show it.
import { statSync } from 'node:fs';
import type { HumilityArchive } from '../config/humility-archive.js';
import type { JobEnd, JobInput, jobs, JobState } from '../db/schema.js';
import { jobOutputPath } from './job-paths.js';

export type JobRow = typeof jobs.$inferSelect;

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

export interface JobView {
  id: string;
  target: string;
  state: JobState;
  slot: string | null;
  worker_id: string | null;
  argv: string[] | null;
  script: string | null;
  env: Record<string, string>;
  priority: number;
  timeout_ms: number;
  submitted_by: string | null;
  submitted_at: string;
  started_at: string | null;
  ended_at: string | null;
  exit_code: number | null;
  signal: string | null;
  end_reason: string | null;
  /** What ended it: exit, signal, timeout, cancel or infrastructure; null while it runs. */
  ended_by: JobEnd | null;
  infrastructure: boolean;
  waiting: string | null;
  /** none, awaiting (PUT /v1/jobs/:id/input) or ready. */
  input: JobInput;
  /** Hubris archives the submitter named, by humility target, as paths inside the input; null when none. */
  archives: Record<string, HumilityArchive> | null;
  /** Bytes kept from $LABSLOT_OUTPUT, downloadable from /v1/jobs/:id/outputs; null when nothing was kept. */
  outputs_bytes: number | null;
  done: boolean;
  output_bytes: number;
}

export function jobView(row: JobRow, stateDir: string): JobView {
  return {
    id: row.id,
    target: row.target,
    state: row.state,
    slot: row.slot,
    worker_id: row.workerId,
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
