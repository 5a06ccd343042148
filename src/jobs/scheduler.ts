// The scheduler (DESIGN §3.2): on every slot, health or job change, and on a
// timer as a safety net, hands queued jobs the slots that can take them (any
// slot of the job's target, or the one slot it asked for). Jobs are taken in
// queue order (priority, then submission) and slots in name order, and each claim is one transaction: concurrent submissions cannot give
// one slot twice, run two conflicting slots at once, or deadlock.
import { and, eq, ne } from 'drizzle-orm';
import type { SlotModel } from '../config/lab-model.js';
import { recordEvent } from '../db/event-log.js';
import { jobs } from '../db/schema.js';
import { coerceError, IllegalStateError } from '../errors.js';
import {
  slotAvailability,
  slotWaitingReason,
  waitingReason,
  type HostState,
  type SlotAvailability,
} from '../slots/availability.js';
import { queuedJobs, readJob } from './job-queue.js';
import { LeaseRun, type LeaseDeps } from './lease-run.js';
import { jobEndData } from './job-outcome.js';
import { isFinal } from './job-view.js';
import { claimSlot } from './lease-records.js';
import type { ActiveLeases } from './reconcile.js';

/** The safety net: leases happen on events; this catches anything an event missed, and refreshes "waiting". */
const SAFETY_TICK_MS = 1_000;

export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError';
}

export class JobDoneError extends Error {
  override readonly name = 'JobDoneError';
}

/** Where queued jobs come from when not from this host's database: the lab's shared queue (lab/lab-claims.ts). */
export interface JobSource {
  /** Something changed (a slot freed, a device recovered, the safety tick): look for jobs to claim. */
  poke(): void;
}

export class Scheduler {
  private readonly runs = new Map<string, { run: LeaseRun; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private stopped = false;
  /** Called whenever a job's state may have changed, for output followers. */
  onJobChange: ((jobId: string) => void) | undefined;

  constructor(
    private readonly deps: LeaseDeps,
    private readonly host: () => HostState,
    /** The lab's queue; absent: this host's own. */
    private readonly source?: JobSource,
  ) {}

  start(): void {
    // The lab's queue has its own safety net (the member's tick claims every second): a second timer would only double it.
    if (this.source === undefined) {
      this.timer = setInterval(() => this.poke(), SAFETY_TICK_MS);
      this.timer.unref();
    }
    this.poke();
  }

  /** Schedules a pass soon; many pokes in one tick make one pass. */
  poke(): void {
    if (this.stopped) return;
    if (this.source !== undefined) {
      this.source.poke();
      return;
    }
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      if (this.stopped) return;
      try {
        this.pass();
      } catch (error) {
        this.deps.log.error({ err: coerceError(error) }, 'scheduling pass failed');
      }
    });
  }

  /** The running lease of a worker, for mark-broken. */
  leaseOfWorker(workerId: string): LeaseRun | undefined {
    for (const { run } of this.runs.values()) if (run.workerId === workerId) return run;
    return undefined;
  }

  /** Cancels a queued job at once, or stops a leased or running one; throws when it has ended. */
  cancel(jobId: string, by: string): void {
    const active = this.runs.get(jobId);
    if (active) {
      active.run.stop({ kind: 'cancel', by });
      return;
    }
    const { db } = this.deps;
    const cancelled = db.transaction((tx) => {
      const at = Date.now();
      const rows = tx
        .update(jobs)
        .set({ state: 'cancelled', endedAt: at, endReason: `cancelled by ${by}`, endedBy: 'cancel', waiting: null })
        .where(and(eq(jobs.id, jobId), eq(jobs.state, 'queued')))
        .returning({ id: jobs.id })
        .all();
      if (rows.length > 0)
        recordEvent(
          tx,
          {
            type: 'job.cancelled',
            jobId,
            actor: by,
            message: `job ${jobId} cancelled while queued`,
            data: jobEndData({ state: 'cancelled', endedBy: 'cancel' }),
          },
          at,
        );
      return rows.length > 0;
    });
    if (cancelled) {
      this.onJobChange?.(jobId);
      return;
    }
    const job = readJob(db, jobId);
    if (!job) throw new JobNotFoundError(`no job ${jobId}`);
    if (isFinal(job.state)) throw new JobDoneError(`job ${jobId} has already ended (${job.state})`);
    // Leased or cleaning, but not ours: a lease from before a restart, already being cleaned up.
    throw new JobDoneError(`job ${jobId} is ${job.state} and can no longer be cancelled`);
  }

  /** Stops every job (SIGTERM, grace, SIGKILL) and waits for their cleanups. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const { run } of this.runs.values()) run.stop({ kind: 'agent-stopping' });
    await Promise.allSettled([...this.runs.values()].map((r) => r.done));
  }

  /** What this agent is working on now; the reconciler leaves it alone. */
  active(): ActiveLeases {
    const runs = [...this.runs.values()].map((r) => r.run);
    return { jobs: new Set(runs.map((r) => r.job.id)), workers: new Set(runs.map((r) => r.workerId)) };
  }

  private pass(): void {
    const { lab, db } = this.deps;
    const queued = queuedJobs(db);
    if (queued.length === 0) return;
    const availability = slotAvailability(lab, db, this.host());
    for (const job of queued) {
      if (job.input === 'awaiting') {
        // Shown by `labslot job status` too: the sentence, not the route that delivers the archive.
        const waiting = 'waiting for its input archive';
        if (job.waiting !== waiting) db.update(jobs).set({ waiting }).where(eq(jobs.id, job.id)).run();
        continue;
      }
      const allowHeld = job.allowHeldBy !== null;
      const slot = (job.requestedSlot === null ? (lab.targets.get(job.target) ?? []) : [job.requestedSlot])
        .map((name) => lab.slots.get(name))
        .find((s): s is SlotModel => s !== undefined && usable(availability.get(s.name), allowHeld));
      if (slot && claimSlot(db, job.id, slot, { allowHeldBy: job.allowHeldBy })) {
        markTaken(availability, slot);
        this.launch(job.id, slot);
        continue;
      }
      const waiting =
        job.requestedSlot === null
          ? waitingReason(lab, job.target, availability)
          : slotWaitingReason(job.requestedSlot, seenBy(availability.get(job.requestedSlot), allowHeld));
      if (waiting !== job.waiting)
        db.update(jobs)
          .set({ waiting })
          .where(and(eq(jobs.id, job.id), ne(jobs.state, 'cancelled')))
          .run();
    }
  }

  /** Runs a job the lab's queue claimed for `slot`: leased here already, its fresh pre-lease check passed. */
  launchClaimed(jobId: string, slot: SlotModel): void {
    this.launch(jobId, slot, true);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private launch(jobId: string, slot: SlotModel, checked = false): void {
    if (this.stopped) throw new IllegalStateError('the scheduler is stopped');
    const job = readJob(this.deps.db, jobId);
    if (!job) return;
    const run = new LeaseRun(this.deps, job, slot, checked);
    const done = run.execute().finally(() => {
      this.runs.delete(jobId);
      this.onJobChange?.(jobId);
      this.poke();
    });
    this.runs.set(jobId, { run, done });
    this.onJobChange?.(jobId);
  }
}

/** A job an operator allowed on a held slot sees the slot as it would be without the hold. */
function seenBy(availability: SlotAvailability | undefined, allowHeld: boolean): SlotAvailability | undefined {
  return allowHeld && availability?.available === false && availability.unheld !== undefined
    ? availability.unheld
    : availability;
}

function usable(availability: SlotAvailability | undefined, allowHeld: boolean): boolean {
  return seenBy(availability, allowHeld)?.available === true;
}

/** After a claim in this pass, the slot and everything it conflicts with are taken for the rest of it. */
function markTaken(availability: Map<string, SlotAvailability>, slot: SlotModel): void {
  availability.set(slot.name, { available: false, why: { kind: 'in-use', detail: 'leased' } });
  for (const other of slot.conflicts)
    availability.set(other, { available: false, why: { kind: 'conflict', detail: `${slot.name} is in use` } });
}
