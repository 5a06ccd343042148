// A claimed job's record in the lab follows its host's (DESIGN §7): this host
// runs the job from its own database, and pushes every change of the row to
// the lab. A change that cannot be pushed (the database is away) stays due and
// goes when it is back; on every (re)connection the host first settles every
// job the lab believes it has, so a crash or an outage loses nothing.
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { readJob } from '../jobs/job-queue.js';
import type { JobRow } from '../jobs/job-view.js';
import type { LabDb } from './lab-database.js';
import { openJobsOf } from './lab-jobs.js';
import { labEvents, labJobs } from './lab-schema.js';

/** What of a job changes once a host has it: pushed whole, as the host last wrote it. */
function progressOf(row: JobRow) {
  return {
    state: row.state,
    slot: row.slot,
    workerId: row.workerId,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    exitCode: row.exitCode,
    signal: row.signal,
    endReason: row.endReason,
    endedBy: row.endedBy,
    infrastructure: row.infrastructure,
    outputsBytes: row.outputsBytes,
  };
}

export class JobMirror {
  /** Job id → the progress the lab has, as JSON; a job is due when its row differs. */
  private readonly pushed = new Map<string, string>();
  private readonly due = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly hostName: string,
  ) {}

  /** The job's row may have changed. */
  note(jobId: string): void {
    this.due.add(jobId);
  }

  /** Pushes every due change; throws (leaving them due) when the database is away. */
  async flush(labDb: LabDb): Promise<void> {
    for (const id of [...this.due]) {
      // No longer due once read: a change while the push below awaits makes it due again (and is pushed next).
      this.due.delete(id);
      const row = readJob(this.db, id);
      if (row === undefined) continue;
      const progress = progressOf(row);
      const json = JSON.stringify(progress);
      if (this.pushed.get(id) !== json) {
        try {
          await labDb
            .update(labJobs)
            .set(progress)
            .where(and(eq(labJobs.id, id), eq(labJobs.host, this.hostName)));
        } catch (error) {
          this.due.add(id);
          throw error;
        }
        this.pushed.set(id, json);
      }
      // Finished jobs change no more: forget them.
      if (row.endedAt !== null) this.pushed.delete(id);
    }
  }

  /**
   * Every job the lab believes this host still has is looked at again: one the
   * reconciler ended here (a lost lease, a retried cleanup) changed without the
   * scheduler knowing, and the lab must hear of it too.
   */
  async noteOpen(labDb: LabDb): Promise<void> {
    for (const job of await openJobsOf(labDb, this.hostName))
      if (readJob(this.db, job.id) !== undefined) this.note(job.id);
  }

  /**
   * Before this host claims anything after a (re)connection: every job the lab
   * believes this host has is settled from this host's own record, and one it
   * has no record of (it stopped between claim and record) ends as failed.
   */
  async reconcile(labDb: LabDb): Promise<void> {
    for (const job of await openJobsOf(labDb, this.hostName)) {
      if (readJob(this.db, job.id) !== undefined) {
        this.pushed.delete(job.id);
        this.due.add(job.id);
        continue;
      }
      const at = Date.now();
      const reason = `agent restarted: ${this.hostName} claimed the job but has no record of running it`;
      await labDb.transaction(async (tx) => {
        await tx
          .update(labJobs)
          .set({ state: 'failed', endedAt: at, endReason: reason, endedBy: 'infrastructure', infrastructure: true })
          .where(and(eq(labJobs.id, job.id), eq(labJobs.host, this.hostName)));
        await tx.insert(labEvents).values({
          host: this.hostName,
          at,
          type: 'job.ended',
          jobId: job.id,
          message: `job ${job.id} failed: ${reason}`,
          data: { state: 'failed', ended_by: 'infrastructure', infrastructure: true },
        });
      });
    }
    await this.flush(labDb);
  }
}
