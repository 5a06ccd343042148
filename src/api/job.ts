// The JSON shape of a job as GET /v1/jobs/:id and `labslot job status --json`
// show it. Types only; jobs/job-view.ts computes it.
import type { HumilityArchive } from '../config/humility-archive.js';
import type { JobEnd, JobInput, JobState } from '../db/schema.js';

export interface JobView {
  id: string;
  /** In a lab: the host that has the job (null while queued). Absent on a host alone. */
  host?: string | null;
  target: string;
  state: JobState;
  /** The slot it got (null while queued). */
  slot: string | null;
  worker_id: string | null;
  /** The one slot it was submitted for ("slot" in POST /v1/jobs); null: any slot of its target. */
  requested_slot: string | null;
  /** The operator who allowed it on its requested slot while held ("allow_held"); null when not allowed. */
  allow_held_by: string | null;
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
