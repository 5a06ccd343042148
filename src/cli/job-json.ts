// What the client reads from the job API (GET /v1/jobs/:id and friends), as
// the jobs contract describes it. The server's own view type lives with the
// server; this copy is only what the commands rely on, so a field added there
// needs no change here.

export const JOB_STATES = ['queued', 'leased', 'running', 'cleaning', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobJson {
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
  /** What ended it; the job's own exit code is its verdict only when this is "exit". */
  ended_by: 'exit' | 'signal' | 'timeout' | 'limit' | 'cancel' | 'infrastructure' | null;
  /** The failure is the lab's (mark-broken, setup failure, agent restart), not the job's. */
  infrastructure: boolean;
  /** For a queued job: why no slot has been leased to it yet. */
  waiting: string | null;
  /** Terminal state reached and cleanup finished. */
  done: boolean;
  output_bytes: number;
}

export function jobPath(id: string, rest = ''): string {
  return `/v1/jobs/${encodeURIComponent(id)}${rest}`;
}
