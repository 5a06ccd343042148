// The job a route's :id names, or JobNotFoundError: the 404 every job route answers alike.
import type { Db } from '../db/open-database.js';
import { readJob } from '../jobs/job-queue.js';
import type { JobRow } from '../jobs/job-view.js';
import { JobNotFoundError } from '../jobs/scheduler.js';

export function jobNamed(db: Db, id: string): JobRow {
  const job = readJob(db, id);
  if (!job) throw new JobNotFoundError(`no job ${id}`);
  return job;
}
