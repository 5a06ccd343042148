// The reconciler: whatever the database says is in use but nothing in this
// agent is working on gets finished. At start that is everything a crashed
// agent left (DESIGN §3.7); while running, it is a cleanup that failed, or a
// lease whose database write failed mid-way (a locked or full disk). Workers
// are cleaned up (kill, restore devices, remove files and user), their jobs
// failed as infrastructure failures, and their slots freed: idle only once
// cleanup has succeeded. At start recovery runs one round; while the agent
// runs, the Reconciler runs one every few seconds until the agent stops it.
import { and, ne } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { slots, workers } from '../db/schema.js';
import { coerceError, IllegalStateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/platform.js';
import { infrastructureFailure, jobEndData } from './job-outcome.js';
import { unfinishedJobs } from './job-queue.js';
import { completeLease, finishJob, resetSlot } from './lease-records.js';
import { cleanupWithRetries, recordCleanupFailure, type OutputsPolicy } from './worker-cleanup.js';

export interface ActiveLeases {
  jobs: ReadonlySet<string>;
  workers: ReadonlySet<string>;
}

export const NOTHING_ACTIVE = (): ActiveLeases => ({ jobs: new Set(), workers: new Set() });

/**
 * `reason` ends the jobs found unfinished: "agent restarted" at start. `activeNow` is asked again
 * before each decision, since the scheduler keeps leasing while this awaits cleanups.
 */
export async function reconcile(
  db: Db,
  platform: Platform,
  outputs: OutputsPolicy,
  log: Logger,
  activeNow: () => ActiveLeases,
  reason: string,
  afterCleanup: AfterCleanup = () => Promise.resolve(),
): Promise<void> {
  const outcome = infrastructureFailure(reason);
  const endJob = (jobId: string, slot: string | null, workerId?: string): void => {
    const ended = finishJob(db, jobId, outcome);
    if (ended === undefined) return; // Already final: nothing new to say.
    // A job whose process had ended keeps the outcome it had then: that is what it did, whatever happened to its cleanup.
    const message =
      ended === outcome
        ? `job ${jobId} failed: ${reason}`
        : `job ${jobId} ${ended.state}; its cleanup finished after: ${reason}`;
    recordEvent(db, { type: 'job.ended', slot: slot ?? undefined, jobId, workerId, message, data: jobEndData(ended) });
  };

  const leftovers = db.select().from(workers).where(ne(workers.state, 'destroyed')).all();
  for (const worker of leftovers) {
    if (activeNow().workers.has(worker.id)) continue;
    const lease = { jobId: worker.jobId, workerId: worker.id, slot: worker.slot };
    try {
      await cleanupWithRetries(db, platform, worker, outputs, 2);
      // As a lease's own cleanup ends (power_after_job): before the slot can be idle again.
      await afterCleanup({ jobId: worker.jobId, workerId: worker.id, slot: worker.slot });
      endJob(worker.jobId, worker.slot, worker.id);
      completeLease(db, lease, 'as found', outcome);
      log.info({ worker: worker.id, slot: worker.slot, job: worker.jobId, reason }, 'leftover worker cleaned up');
    } catch (error) {
      // Said once per distinct error: a cleanup retried every few seconds must not flood the audit log.
      if (worker.state === 'cleanup-failed' && worker.cleanupError === coerceError(error).message) continue;
      log.error({ err: coerceError(error), worker: worker.id, slot: worker.slot }, 'worker cleanup failed; slot held');
      recordCleanupFailure(db, lease, outcome, error);
    }
  }

  // Jobs past the queue with neither a run nor a worker (caught in their pre-lease check) have nothing
  // to clean. From here on nothing awaits, so no lease can start between this look and the writes.
  const active = activeNow();
  const live = new Set(
    db
      .select({ jobId: workers.jobId })
      .from(workers)
      .where(ne(workers.state, 'destroyed'))
      .all()
      .map((w) => w.jobId),
  );
  for (const job of unfinishedJobs(db)) {
    if (!active.jobs.has(job.id) && !live.has(job.id)) endJob(job.id, job.slot);
  }
  // A recovering slot has no lease: it is SlotRecovery's, which gives it back itself (after a crash,
  // recoverAfterRestart frees it before this runs). Freeing it here would start a second recovery beside the first.
  const stuck = db
    .select()
    .from(slots)
    .where(and(ne(slots.usage, 'idle'), ne(slots.usage, 'recovering')))
    .all()
    .filter((s) => s.leaseJobId === null || (!active.jobs.has(s.leaseJobId) && !live.has(s.leaseJobId)));
  for (const slot of stuck) {
    resetSlot(db, slot.name, slot.usage, `${reason} while it was ${slot.usage}`);
    log.info({ slot: slot.name, was: slot.usage }, 'slot freed: nothing was left to clean');
  }
}

/** What the slot's config wants once a job's cleanup has finished (power_after_job); must not throw. */
export type AfterCleanup = (lease: { jobId: string; workerId: string; slot: string }) => Promise<void>;

export interface ReconcilerOptions {
  db: Db;
  platform: Platform;
  outputs: OutputsPolicy;
  log: Logger;
  /** What the agent is working on now (the scheduler's leases): left alone. */
  active: () => ActiveLeases;
  intervalMs: number;
  afterCleanup?: AfterCleanup;
}

/**
 * The reconciler while the agent runs: a round every `intervalMs`, one at a time. stop() ends the
 * rounds and waits for the one in flight, so that the agent closes the database only after it.
 */
export class Reconciler {
  private state: 'created' | 'running' | 'stopped' = 'created';
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    if (this.state !== 'created') throw new IllegalStateError(`cannot start a reconciler that is ${this.state}`);
    this.state = 'running';
    this.timer = setInterval(() => this.startRound(), this.options.intervalMs);
    this.timer.unref();
  }

  /** No more rounds; resolves once the round in flight, if any, has ended. Idempotent. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    clearInterval(this.timer);
    if (this.round === undefined) return;
    this.options.log.info({}, 'waiting for the reconcile round in flight');
    await this.round;
  }

  private startRound(): void {
    // One round at a time: a round with stubborn processes can outlast the interval.
    if (this.state !== 'running' || this.round !== undefined) return;
    const { db, platform, outputs, log, active, afterCleanup } = this.options;
    this.round = reconcile(db, platform, outputs, log, active, 'the agent lost track of the job', afterCleanup)
      .catch((error: unknown) => log.error({ err: coerceError(error) }, 'reconciling failed'))
      .finally(() => (this.round = undefined));
  }
}
