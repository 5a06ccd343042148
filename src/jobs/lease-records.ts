// Every persisted step of a lease, each one transaction with its audit event:
// claim (idle → leased), back to the queue after a failed pre-lease check,
// running, cleaning, and idle again once cleanup has finished (DESIGN §2).
// Each usage change is a move of src/slots/slot-usage.ts: refused, with the
// whole step rolled back, if the slot is not where the step expects it.
import { and, eq, inArray, isNotNull, ne, sql } from 'drizzle-orm';
import type { SlotModel } from '../config/lab-model.js';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { jobs, slots, workers, type SlotUsage } from '../db/schema.js';
import { readSlotStates } from '../slots/slot-states.js';
import { leaseUsage, moveSlot } from '../slots/slot-usage.js';
import { holdView } from '../slots/slot-view.js';
import { jobEndData, type JobOutcome } from './job-outcome.js';

/**
 * Leases `slot` to a queued job if, inside this transaction, the slot is idle
 * and unheld (or held, for a job `allowHeldBy` an operator), no conflicting
 * slot is in use, and the job is still queued.
 * One transaction per claim and one process writing: two jobs can never hold
 * one slot, nor two conflicting slots run at once.
 */
export function claimSlot(
  db: Db,
  jobId: string,
  slot: SlotModel,
  {
    allowHeldBy = null,
    at = Date.now(),
    mark = null,
  }: {
    allowHeldBy?: string | null;
    at?: number;
    /** Kept in `waiting` (CLAIM_PENDING for a lab claim). */ mark?: string | null;
  } = {},
): boolean {
  return db.transaction((tx) => {
    const states = readSlotStates(tx, [slot.name, ...slot.conflicts]);
    const own = states.get(slot.name);
    if (!own || own.usage !== 'idle') return false;
    // A held slot stays out of rotation; only a job an operator allowed on it (to debug it) may run there.
    const hold = own.hold;
    if (hold !== null && allowHeldBy === null) return false;
    if (slot.conflicts.some((other) => (states.get(other)?.usage ?? 'idle') !== 'idle')) return false;
    const claimed = tx
      .update(jobs)
      .set({ state: 'leased', slot: slot.name, waiting: mark })
      .where(and(eq(jobs.id, jobId), eq(jobs.state, 'queued')))
      .returning({ id: jobs.id })
      .all();
    if (claimed.length === 0) return false;
    moveSlot(tx, slot.name, 'idle', 'leased', { jobId, at });
    recordEvent(
      tx,
      {
        type: 'slot.leased',
        slot: slot.name,
        jobId,
        message:
          hold === null
            ? `${slot.name} leased to job ${jobId}`
            : `${slot.name} leased to job ${jobId} while held (allowed by ${allowHeldBy}); the hold stays`,
        data: {
          target: slot.target,
          conflicts: slot.conflicts,
          ...(hold === null ? {} : { held: holdView(hold), allowed_by: allowHeldBy }),
        },
      },
      at,
    );
    return true;
  });
}

/**
 * A job the lab's queue offers this host: copied into this host's jobs table
 * and leased `slot`, as claimSlot does; false (and no copy kept) when the slot
 * was taken meanwhile.
 */
export function adoptLabJob(db: Db, job: typeof jobs.$inferSelect, slot: SlotModel): boolean {
  // A copy left by a claim that never committed (the agent stopped in it) is replaced whole. Until the claim
  // commits the copy is marked (CLAIM_PENDING): a crash before that leaves nothing a restart takes for a job.
  const copy = { ...job, state: 'queued' as const, slot: null, workerId: null, waiting: CLAIM_PENDING };
  db.insert(jobs).values(copy).onConflictDoUpdate({ target: jobs.id, set: copy }).run();
  if (claimSlot(db, job.id, slot, { allowHeldBy: job.allowHeldBy, mark: CLAIM_PENDING })) return true;
  forgetLabJob(db, job.id);
  return false;
}

/** Marks a lab job's copy here while its claim has not committed (the column says why a job waits, unused once leased). */
export const CLAIM_PENDING = 'lab claim pending';

/** The claim committed: the copy is this host's job like any other. */
export function claimCommitted(db: Db, jobId: string): void {
  db.update(jobs)
    .set({ waiting: null })
    .where(and(eq(jobs.id, jobId), eq(jobs.waiting, CLAIM_PENDING)))
    .run();
}

/**
 * At start, before crash recovery: copies of lab jobs whose claim never
 * committed (the agent died during the claim's check). The lab never gave
 * them to this host (its transaction rolled back, and another host may run
 * them), so they are dropped and their slots freed without a word: recovery
 * would otherwise end them as failed here, in the lab's shared log too.
 * If such a claim did commit after all, the lab's reconciliation fails the job there.
 */
export function dropUncommittedClaims(db: Db): { jobId: string; slot: string }[] {
  return db.transaction((tx) => {
    const pending = tx
      .select({ id: jobs.id, slot: jobs.slot })
      .from(jobs)
      .where(and(eq(jobs.state, 'leased'), eq(jobs.waiting, CLAIM_PENDING)))
      .all();
    const dropped: { jobId: string; slot: string }[] = [];
    for (const { id, slot } of pending) {
      if (slot !== null && leaseUsage(tx, slot, id) === 'leased') moveSlot(tx, slot, 'leased', 'idle', { jobId: id });
      tx.delete(jobs).where(eq(jobs.id, id)).run();
      dropped.push({ jobId: id, slot: slot ?? '' });
    }
    return dropped;
  });
}

/** A lab job this host will not run after all (its claim did not commit): the lab's record is the job's. */
export function forgetLabJob(db: Db, jobId: string): void {
  db.delete(jobs)
    .where(and(eq(jobs.id, jobId), eq(jobs.state, 'queued')))
    .run();
}

/** The pre-lease check failed: the slot is free again and the job waits for another. */
export function returnToQueue(db: Db, jobId: string, slot: string, why: string, at = Date.now()): void {
  db.transaction((tx) => {
    tx.update(jobs)
      .set({ state: 'queued', slot: null, workerId: null })
      .where(and(eq(jobs.id, jobId), eq(jobs.state, 'leased')))
      .run();
    moveSlot(tx, slot, 'leased', 'idle', { at });
    recordEvent(
      tx,
      {
        type: 'lease.check-failed',
        slot,
        jobId,
        message: `${slot} failed its pre-lease check; job ${jobId} stays queued: ${why}`,
      },
      at,
    );
  });
}

export interface NewWorkerRecord {
  id: string;
  jobId: string;
  slot: string;
  username: string;
  /** -1: not known yet. */
  uid?: number;
  gid?: number;
  networkPolicy?: string | null;
  tokenHash: string;
  rootDir: string;
}

/**
 * The worker on record for its job, before anything of the job is given to it (its disk's space, device
 * grants, token): from here on a crash leaves a worker that cleanup and the next start clean up.
 */
export function recordWorker(db: Db, worker: NewWorkerRecord, at = Date.now()): void {
  db.transaction((tx) => {
    tx.insert(workers)
      .values({ uid: -1, gid: -1, ...worker, createdAt: at })
      .run();
    tx.update(jobs).set({ workerId: worker.id }).where(eq(jobs.id, worker.jobId)).run();
    tx.update(slots).set({ leaseWorkerId: worker.id }).where(eq(slots.name, worker.slot)).run();
  });
}

export function markRunning(db: Db, jobId: string, workerId: string, slot: string, at = Date.now()): void {
  db.transaction((tx) => {
    tx.update(jobs).set({ state: 'running', startedAt: at }).where(eq(jobs.id, jobId)).run();
    tx.update(workers).set({ state: 'running' }).where(eq(workers.id, workerId)).run();
    moveSlot(tx, slot, 'leased', 'running', { at });
    recordEvent(
      tx,
      { type: 'job.started', slot, jobId, workerId, message: `job ${jobId} started in ${slot} as worker ${workerId}` },
      at,
    );
  });
}

/**
 * The job is over (its outcome is known); the slot is not reusable until cleanup finishes, and the worker's token stops working.
 * `from` is where the lease left the slot: running, or still leased when the job never started or its start was not recorded.
 */
export function markCleaning(
  db: Db,
  lease: { jobId: string; workerId: string; slot: string },
  from: 'leased' | 'running',
  outcome: JobOutcome,
  at = Date.now(),
): void {
  const { jobId, slot } = lease;
  db.transaction((tx) => {
    tx.update(workers)
      .set({ state: 'cleaning' })
      .where(and(eq(workers.id, lease.workerId), ne(workers.state, 'destroyed')))
      .run();
    tx.update(jobs)
      .set({
        state: 'cleaning',
        endedAt: at,
        exitCode: outcome.exitCode,
        signal: outcome.signal,
        endReason: outcome.reason,
        endedBy: outcome.endedBy,
        infrastructure: outcome.infrastructure,
      })
      .where(eq(jobs.id, jobId))
      .run();
    moveSlot(tx, slot, from, 'cleaning', { at });
    recordEvent(
      tx,
      {
        type: 'job.ended',
        slot,
        jobId,
        message: `job ${jobId} ${outcome.state}: ${outcome.reason}`,
        data: {
          state: outcome.state,
          exit_code: outcome.exitCode,
          signal: outcome.signal,
          infrastructure: outcome.infrastructure,
        },
      },
      at,
    );
  });
}

/**
 * Gives the job its final state (the client waiting on it is released) without freeing the slot.
 * Returns how it ended, or undefined if it was final already. An outcome once recorded never
 * changes: a job in `cleaning` had its outcome written when its process ended (markCleaning), so a
 * later end (a reconciler that found its cleanup unfinished) only makes that outcome final.
 */
export function finishJob(
  db: Pick<Db, 'update'>,
  jobId: string,
  outcome: JobOutcome,
  at = Date.now(),
): Pick<JobOutcome, 'state' | 'endedBy'> | undefined {
  const recorded = db
    .update(jobs)
    .set({
      state: sql`case when ${jobs.endedBy} = 'cancel' then 'cancelled' when ${jobs.endedBy} = 'exit' and ${jobs.exitCode} = 0 then 'succeeded' else 'failed' end`,
    })
    .where(and(eq(jobs.id, jobId), eq(jobs.state, 'cleaning'), isNotNull(jobs.endedBy)))
    .returning({ state: jobs.state, endedBy: jobs.endedBy })
    .all()[0];
  if (recorded !== undefined)
    return { state: recorded.state as JobOutcome['state'], endedBy: recorded.endedBy ?? outcome.endedBy };
  const changed = db
    .update(jobs)
    // The job ended when its process did (markCleaning), not when its cleanup finished.
    .set({
      state: outcome.state,
      endedAt: sql`coalesce(${jobs.endedAt}, ${at})`,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      endReason: outcome.reason,
      endedBy: outcome.endedBy,
      infrastructure: outcome.infrastructure,
    })
    .where(and(eq(jobs.id, jobId), inArray(jobs.state, ['queued', 'leased', 'running', 'cleaning'])))
    .run();
  return changed.changes > 0 ? outcome : undefined;
}

/**
 * Cleanup finished: the worker is destroyed, the slot is idle, the job has its final state. `from` is where
 * the lease left the slot; the reconciler, finishing a lease this agent lost track of, does not know and
 * passes 'as found': the slot moves from whatever it is while it is still this job's, and is left alone
 * once it is not.
 */
export function completeLease(
  db: Db,
  lease: { jobId: string; workerId: string | null; slot: string },
  from: 'leased' | 'cleaning' | 'as found',
  outcome: JobOutcome,
  at = Date.now(),
): void {
  db.transaction((tx) => {
    if (lease.workerId !== null)
      tx.update(workers)
        .set({ state: 'destroyed', destroyedAt: at, cleanupError: null })
        .where(eq(workers.id, lease.workerId))
        .run();
    const ended = finishJob(tx, lease.jobId, outcome, at);
    const usage = from === 'as found' ? leaseUsage(tx, lease.slot, lease.jobId) : from;
    if (usage !== undefined) moveSlot(tx, lease.slot, usage, 'idle', { jobId: lease.jobId, at });
    recordEvent(
      tx,
      {
        type: 'slot.idle',
        slot: lease.slot,
        jobId: lease.jobId,
        workerId: lease.workerId ?? undefined,
        message: `${lease.slot} cleaned up after job ${lease.jobId}, idle`,
        ...(ended ? { data: jobEndData(ended) } : {}),
      },
      at,
    );
  });
}

/** A restarted agent frees a slot left mid-lease (`from`, as it found it) with nothing to clean (no worker was created). */
export function resetSlot(db: Db, slot: string, from: SlotUsage, why: string, at = Date.now()): void {
  db.transaction((tx) => {
    moveSlot(tx, slot, from, 'idle', { at });
    recordEvent(tx, { type: 'slot.idle', slot, message: `${slot} idle again: ${why}` }, at);
  });
}
