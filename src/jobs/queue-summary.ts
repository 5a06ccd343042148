// How long each target's queue is and how old its oldest job is: what an
// operator asks first when a pipeline waits, on the status page and in /metrics.
import { count, eq, min } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { jobs } from '../db/schema.js';

export interface TargetQueue {
  queued: number;
  /** Submission time (ms) of the oldest queued job. */
  oldestSubmittedAt: number;
}

/** Queued jobs per target; targets with an empty queue are absent. One indexed query. */
export function queueByTarget(db: Db): Map<string, TargetQueue> {
  const rows = db
    .select({ target: jobs.target, queued: count(), oldest: min(jobs.submittedAt) })
    .from(jobs)
    .where(eq(jobs.state, 'queued'))
    .groupBy(jobs.target)
    .all();
  return new Map(rows.map((r) => [r.target, { queued: r.queued, oldestSubmittedAt: r.oldest ?? Date.now() }]));
}
