// How a host takes work from the lab's queue (DESIGN §7): one transaction per
// claim. It locks the first queued job (priority, then submission, lab-wide)
// that one of this host's available slots can take, skipping jobs other hosts
// hold locked (FOR UPDATE SKIP LOCKED); leases the slot here; runs the fresh
// pre-lease check; and only if that passes marks the job this host's and
// commits. A failed check, or a commit that does not happen, rolls back: the
// job is queued for any host again. A job is run only after its claim has
// committed, so it runs at most once, on one host.
import { and, asc, desc, eq, inArray, isNull, ne, or, sql, type SQL } from 'drizzle-orm';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import { coerceError } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import { freshCheck } from '../jobs/fresh-check.js';
import { rm } from 'node:fs/promises';
import { createOutputFile, jobDir } from '../jobs/job-paths.js';
import { adoptLabJob, claimCommitted, forgetLabJob, returnToQueue } from '../jobs/lease-records.js';
import type { Scheduler } from '../jobs/scheduler.js';
import type { Logger } from '../log.js';
import { slotAvailability, type HostState, type SlotAvailability } from '../slots/availability.js';
import type { LabDb } from './lab-database.js';
import { asJobRow, QUEUE_CHANNEL, type LabJobRow } from './lab-jobs.js';
import { dropLabInput, unpackLabInput } from './lab-inputs.js';
import { labJobs } from './lab-schema.js';

export interface LabClaimsDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  monitor: HealthMonitor;
  scheduler: () => Scheduler | undefined;
  host: () => HostState;
  hostName: string;
  /** The lab's database while this host may claim (connected, caught up); undefined otherwise. */
  labDb: () => LabDb | undefined;
  /** A claim failed for want of the database: the member reconnects. */
  onDatabaseError: (error: unknown) => void;
}

/** Ends a claim's transaction without committing it. */
class ClaimRolledBack extends Error {
  override readonly name = 'ClaimRolledBack';
}

/** What this host's slots can take now. */
interface Offer {
  targets: string[];
  slots: string[];
  /** Held slots otherwise available: for a job an operator allowed on them. */
  heldSlots: string[];
}

export class LabClaims {
  private passing = false;
  private again = false;
  /** Claims whose transaction is open (their pre-lease check running). */
  private readonly open = new Set<Promise<void>>();
  /** Jobs leased in this host's database by a claim that has not yet handed them to the scheduler. */
  private readonly adopted = new Set<string>();

  constructor(private readonly deps: LabClaimsDeps) {}

  /**
   * Jobs a claim has leased here but not yet launched (its pre-lease check and
   * commit in flight). The reconciler leaves them alone as it does the
   * scheduler's runs: to it they would be leased jobs nothing works on.
   */
  claiming(): ReadonlySet<string> {
    return this.adopted;
  }

  poke(): void {
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = true;
    void this.pass().finally(() => {
      this.passing = false;
    });
  }

  /** Waits for claims in flight (their transactions end one way or the other). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.open]);
  }

  private async pass(): Promise<void> {
    do {
      this.again = false;
      // Bounded: a job that cannot be placed after all is left for the next pass.
      for (let i = 0; i < this.deps.lab.slots.size + 1; i += 1) {
        let more: boolean;
        try {
          more = await this.claimOne();
        } catch (error) {
          this.deps.onDatabaseError(error);
          return;
        }
        if (!more) break;
      }
    } while (this.pokedMeanwhile());
  }

  /** A method, not the field: a poke during the pass's awaits sets it behind the type checker's back. */
  private pokedMeanwhile(): boolean {
    return this.again;
  }

  /** Starts one claim; resolves true once a job is leased here (its check then runs on), false when there is none. */
  private claimOne(): Promise<boolean> {
    const labDb = this.deps.labDb();
    const scheduler = this.deps.scheduler();
    if (labDb === undefined || scheduler === undefined || scheduler.isStopped) return Promise.resolve(false);
    const availability = slotAvailability(this.deps.lab, this.deps.db, this.deps.host());
    const offer = offerOf(this.deps.lab, availability);
    if (offer.slots.length === 0 && offer.heldSlots.length === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, failed) => {
      let answered = false;
      const started = (more: boolean): void => {
        answered = true;
        resolve(more);
      };
      let leased: { job: LabJobRow; slot: SlotModel } | undefined;
      let adoptedId: string | undefined;
      const claim = labDb
        .transaction(async (tx) => {
          const [job] = await tx
            .select()
            .from(labJobs)
            .where(claimable(offer))
            .orderBy(desc(labJobs.priority), asc(labJobs.submittedAt), asc(labJobs.id))
            .limit(1)
            .for('update', { skipLocked: true });
          if (job === undefined) {
            started(false);
            return;
          }
          const slot = pick(this.deps.lab, job, availability);
          // As a submission here makes it: the output file exists before the job can be read.
          if (slot !== undefined) await createOutputFile(this.deps.lab.stateDir, job.id);
          if (slot === undefined || !adoptLabJob(this.deps.db, asJobRow(job), slot)) {
            // Taken meanwhile (a local hold, a conflict): the next pass sees fresh availability.
            if (slot !== undefined) await this.discard(job.id);
            started(false);
            throw new ClaimRolledBack('the slot was taken meanwhile');
          }
          leased = { job, slot };
          adoptedId = job.id;
          this.adopted.add(job.id);
          started(true);
          const check = await freshCheck(this.deps.monitor, slot);
          if (!check.ok) {
            this.deps.log.warn({ job: job.id, slot: slot.name, why: check.why }, 'pre-lease check failed');
            returnToQueue(this.deps.db, job.id, slot.name, `${check.why} (back in the lab's queue)`);
            await this.discard(job.id);
            leased = undefined;
            throw new ClaimRolledBack(check.why);
          }
          // The input travels with the claim: unpacked here before the job is this host's.
          if (job.input === 'ready') await unpackLabInput(tx, this.deps.lab.stateDir, job.id, job.archives);
          if (this.deps.scheduler()?.isStopped !== false) {
            // The agent began to stop during the check: the job goes back to the lab, not into a lease nobody runs.
            returnToQueue(this.deps.db, job.id, slot.name, 'the agent is stopping (back in the lab queue)');
            await this.discard(job.id);
            leased = undefined;
            throw new ClaimRolledBack('the agent is stopping');
          }
          await tx
            .update(labJobs)
            .set({ state: 'leased', host: this.deps.hostName, slot: slot.name, waiting: null })
            .where(eq(labJobs.id, job.id));
        })
        .then(
          () => {
            if (leased === undefined) return;
            claimCommitted(this.deps.db, leased.job.id);
            this.deps.log.info({ job: leased.job.id, slot: leased.slot.name }, 'claimed a job from the lab queue');
            this.launch(leased.job.id, leased.slot);
            if (leased.job.input === 'ready')
              dropLabInput(labDb, leased.job.id).catch((error: unknown) =>
                this.deps.log.warn(
                  { err: coerceError(error), job: leased?.job.id },
                  'could not drop the lab copy of an input',
                ),
              );
          },
          (error: unknown) => this.rolledBack(error, leased, labDb),
        );
      // A database failure before the job was leased here ends this pass; after, the claim reports it itself.
      const tracked: Promise<void> = claim
        .then(
          () => started(false),
          (error: unknown) => {
            if (answered) this.deps.onDatabaseError(error);
            else failed(coerceError(error));
          },
        )
        .finally(() => {
          this.open.delete(tracked);
          // Launched (the scheduler's now) or given back: either way no longer only this claim's.
          if (adoptedId !== undefined) this.adopted.delete(adoptedId);
        });
      this.open.add(tracked);
    });
  }

  /** A claim that did not commit leaves nothing here: not the job's copy, not its directory (output file, input). */
  private async discard(jobId: string): Promise<void> {
    forgetLabJob(this.deps.db, jobId);
    await rm(jobDir(this.deps.lab.stateDir, jobId), { recursive: true, force: true });
  }

  private launch(jobId: string, slot: SlotModel): void {
    const scheduler = this.deps.scheduler();
    if (scheduler === undefined || scheduler.isStopped) {
      // Committed, but the agent is stopping: the job ends as the reconciler finds it (never run twice).
      this.deps.log.warn({ job: jobId }, 'claimed a job as the agent stops; it will not run here');
      return;
    }
    scheduler.launchClaimed(jobId, slot);
  }

  /** Undoes the local lease of a claim that did not commit, and tells the lab the job is there for anyone. */
  private async rolledBack(
    error: unknown,
    leased: { job: LabJobRow; slot: SlotModel } | undefined,
    labDb: LabDb,
  ): Promise<void> {
    if (leased !== undefined) {
      // The commit (or the update before it) failed: the job may or may not be ours in the lab's
      // record. It is not run; if the commit did land, the reconciler fails it there (at most once).
      this.deps.log.warn(
        { job: leased.job.id, err: coerceError(error) },
        'a claim did not commit; the job is not run here',
      );
      returnToQueue(
        this.deps.db,
        leased.job.id,
        leased.slot.name,
        `the lab's claim did not commit: ${coerceError(error).message}`,
      );
      await this.discard(leased.job.id);
    }
    if (!(error instanceof ClaimRolledBack)) throw error;
    // Another host may take it now: a failed pre-lease check here says nothing about theirs.
    await labDb.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, 'returned')`).catch(() => undefined);
  }
}

function offerOf(lab: LabModel, availability: ReadonlyMap<string, SlotAvailability>): Offer {
  const offer: Offer = { targets: [], slots: [], heldSlots: [] };
  for (const slot of lab.slots.values()) {
    const a = availability.get(slot.name);
    if (a?.available === true) {
      offer.slots.push(slot.name);
      if (!offer.targets.includes(slot.target)) offer.targets.push(slot.target);
    } else if (a?.why.kind === 'held' && a.unheld?.available === true) offer.heldSlots.push(slot.name);
  }
  return offer;
}

function claimable(offer: Offer): SQL | undefined {
  const where: SQL[] = [];
  if (offer.targets.length > 0)
    where.push(and(isNull(labJobs.requestedSlot), inArray(labJobs.target, offer.targets)) as SQL);
  if (offer.slots.length > 0) where.push(inArray(labJobs.requestedSlot, offer.slots));
  if (offer.heldSlots.length > 0)
    where.push(and(inArray(labJobs.requestedSlot, offer.heldSlots), sql`${labJobs.allowHeldBy} IS NOT NULL`) as SQL);
  return and(eq(labJobs.state, 'queued'), isNull(labJobs.host), ne(labJobs.input, 'awaiting'), or(...where));
}

/** The slot a claimed job gets: the one it asked for, or the first available slot of its target in name order. */
function pick(
  lab: LabModel,
  job: LabJobRow,
  availability: ReadonlyMap<string, SlotAvailability>,
): SlotModel | undefined {
  const usable = (name: string): boolean => {
    const a = availability.get(name);
    if (a?.available === true) return true;
    return job.allowHeldBy !== null && a?.why.kind === 'held' && a.unheld?.available === true;
  };
  const names = job.requestedSlot === null ? (lab.targets.get(job.target) ?? []) : [job.requestedSlot];
  const name = names.find(usable);
  return name === undefined ? undefined : lab.slots.get(name);
}
