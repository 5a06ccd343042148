// What the client reads from the job API (GET /v1/jobs/:id and friends): the
// server's own view type and final states, so client and server cannot drift apart.
export type { JobView as JobJson } from '../api/job.js';
export { isFinal } from '../jobs/job-view.js';
// From job-states, not the drizzle schema: the client has no database to load.
export { JOB_STATES, type JobState } from '../db/job-states.js';

export function jobPath(id: string, rest = ''): string {
  return `/v1/jobs/${encodeURIComponent(id)}${rest}`;
}
