// The job queue in SQLite (DESIGN §3.1): submitted jobs wait here until the
// scheduler leases them a slot. Order: per target, higher priority first,
// then first come first served.
import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { formatDuration } from '../config/duration.js';
import type { LabModel } from '../config/lab-model.js';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { jobs, type JobState } from '../db/schema.js';
import { newJobId } from './ids.js';
import { humilityNames } from './humility-environment.js';
import { JobRefusedError, UnknownTargetError, unknownTargetMessage } from './job-refusals.js';
import type { JobRequest } from './job-request.js';
import { placeJob } from './slot-request.js';
import type { JobRow } from './job-view.js';

export { JobRefusedError, UnknownTargetError, unknownTargetMessage };

/** `beforeCommit` runs inside the insert's transaction: if it throws (a full disk), the job was never submitted. */
export function submitJob(
  db: Db,
  lab: LabModel,
  request: JobRequest,
  by: string,
  at = Date.now(),
  beforeCommit?: (id: string) => void,
): JobRow {
  const place = placeJob(db, lab, request, by);
  const { target } = place;
  if (!lab.targets.has(target)) throw new UnknownTargetError(unknownTargetMessage(lab, target));
  const limit = lab.config.jobs.timeout;
  if (request.timeout !== undefined && request.timeout > limit) {
    // The route puts the field in front ("timeout: 2h is over ..."): the message does not name it again.
    throw new JobRefusedError(
      'timeout',
      `${formatDuration(request.timeout)} is over this host's limit of ${formatDuration(limit)} ([jobs] timeout)`,
    );
  }
  const probes = humilityNames(lab, target);
  for (const name of Object.keys(request.archives ?? {})) {
    if (!probes.includes(name)) {
      const known = probes.length === 0 ? 'its slots have no probes' : `its probes: ${probes.join(', ')}`;
      throw new JobRefusedError(
        `archives.${name}`,
        `no slot of target "${target}" has a probe named "${name}" in HUMILITY_ENVIRONMENT (${known})`,
      );
    }
  }
  const id = newJobId();
  return db.transaction((tx) => {
    const row = tx
      .insert(jobs)
      .values({
        id,
        target,
        requestedSlot: place.slot,
        allowHeldBy: place.allowHeldBy,
        argv: request.argv ?? null,
        script: request.script ?? null,
        env: request.env,
        timeoutMs: request.timeout ?? lab.config.jobs.timeout,
        priority: request.priority,
        input: request.input ? 'awaiting' : 'none',
        archives: Object.keys(request.archives ?? {}).length > 0 ? request.archives : null,
        submittedBy: by,
        submittedAt: at,
      })
      .returning()
      .get();
    recordEvent(
      tx,
      {
        type: 'job.submitted',
        jobId: id,
        actor: by,
        message:
          place.slot === null
            ? `job ${id} submitted for ${target}`
            : `job ${id} submitted for slot ${place.slot}${place.allowHeldBy === null ? '' : ' (allowed on it while held)'}`,
        data: {
          target,
          priority: request.priority,
          ...(place.slot === null ? {} : { slot: place.slot, allow_held_by: place.allowHeldBy }),
        },
      },
      at,
    );
    beforeCommit?.(id);
    return row;
  });
}

export function readJob(db: Pick<Db, 'select'>, id: string): JobRow | undefined {
  return db.select().from(jobs).where(eq(jobs.id, id)).get();
}

/** What a scheduler pass needs of a queued job; the full row (script, env) is read only for the one that gets a slot. */
export type QueuedJob = Pick<JobRow, 'id' | 'target' | 'input' | 'waiting' | 'requestedSlot' | 'allowHeldBy'>;

/** Queued jobs in the order they should get slots: priority, then submission. */
export function queuedJobs(db: Db): QueuedJob[] {
  return db
    .select({
      id: jobs.id,
      target: jobs.target,
      input: jobs.input,
      waiting: jobs.waiting,
      requestedSlot: jobs.requestedSlot,
      allowHeldBy: jobs.allowHeldBy,
    })
    .from(jobs)
    .where(eq(jobs.state, 'queued'))
    .orderBy(desc(jobs.priority), asc(jobs.submittedAt), asc(jobs.id))
    .all();
}

/** Only the state: what an output follower asks again and again. */
export function jobState(db: Pick<Db, 'select'>, id: string): JobState | undefined {
  return db.select({ state: jobs.state }).from(jobs).where(eq(jobs.id, id)).get()?.state;
}

export function listJobs(
  db: Db,
  filter: { state?: JobState | undefined; target?: string | undefined; slot?: string | undefined; limit: number },
): JobRow[] {
  const conditions: SQL[] = [];
  if (filter.slot !== undefined) conditions.push(eq(jobs.slot, filter.slot));
  if (filter.state !== undefined) conditions.push(eq(jobs.state, filter.state));
  if (filter.target !== undefined) conditions.push(eq(jobs.target, filter.target));
  return db
    .select()
    .from(jobs)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(jobs.submittedAt), desc(jobs.id))
    .limit(filter.limit)
    .all();
}

/** Jobs past the queue but not finished: what a restarted agent must clean up after. */
export function unfinishedJobs(db: Db): JobRow[] {
  return db
    .select()
    .from(jobs)
    .where(inArray(jobs.state, ['leased', 'running', 'cleaning']))
    .all();
}
