// How `labslot job run` ends: with the job's own exit code when the job ran to
// its end and said something, otherwise 1 plus one line saying what happened.
// A CI pipeline can then tell "my test failed with 3" from "the lab failed".
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import type { JobJson } from './job-json.js';

export interface JobOutcome {
  code: number;
  /** The one line for stderr, without the "labslot: " prefix; undefined when the exit code says it all. */
  message?: string;
}

/** `interrupted`: the user pressed Ctrl-C and we asked for a cancel; whatever the job did, the run failed. */
export function jobOutcome(job: JobJson, interrupted = false): JobOutcome {
  if (interrupted) return { code: EXIT_FAILURE, message: endLine(job) };
  if (job.state === 'succeeded') return { code: EXIT_OK };
  if (job.state === 'failed' && job.ended_by === 'exit' && isExitStatus(job.exit_code)) return { code: job.exit_code };
  return { code: EXIT_FAILURE, message: endLine(job) };
}

/** "job 01J... failed: marked broken: SP probe does not attach" */
export function endLine(job: JobJson): string {
  return `job ${job.id} ${job.state}: ${job.end_reason ?? describeEnd(job)}`;
}

/** 1..255: 0 from a failed job would read as success, and a shell cannot exit with more. */
function isExitStatus(code: number | null): code is number {
  return code !== null && Number.isInteger(code) && code > 0 && code <= 255;
}

function describeEnd(job: JobJson): string {
  if (job.signal !== null) return `killed by ${job.signal}`;
  if (job.exit_code !== null) return `exit code ${job.exit_code}`;
  return job.state === 'succeeded' ? 'exit code 0' : 'no reason given';
}
