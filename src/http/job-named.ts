// The job a route's :id names, or the 404 every job route answers alike.
import type { Db } from '../db/open-database.js';
import { readJob } from '../jobs/job-queue.js';
import type { JobRow } from '../jobs/job-view.js';
import { HttpError } from './http-error.js';

export function jobNamed(db: Db, id: string): JobRow {
  const job = readJob(db, id);
  if (!job) throw new HttpError(404, 'job_not_found', `no job ${id}`);
  return job;
}
