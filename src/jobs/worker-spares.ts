// Workers made ahead ([jobs] prepare_ahead, issue 17): while a slot's job
// runs, the slot's next worker (user, network policy, disk, directories) is
// made beside it, so the next lease of that slot only binds it to its job
// after the fresh pre-lease check: a user and a filesystem are most of a
// lease's setup. At most one per slot; one nobody takes within `idleMs` of its
// slot's last lease ending is removed, and so is every one when the agent stops. A spare is never reused
// either: it serves exactly one job, and that job's cleanup removes it whole.
// A spare is on no record, so nothing else in a running agent would find what
// a failed removal left: removals are tried again until they succeed.
// What a spare is, and how a crash's leftovers are found, is in worker-space.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SlotModel } from '../config/lab-model.js';
import type { Logger } from '../log.js';
import { coerceError } from '../errors.js';
import type { WorkerSpace } from './worker-space.js';

/** How long a slot's spare waits for a job, once the slot's lease has ended, before it is removed. */
export const SPARE_IDLE_MS = 60_000;
/**
 * Pauses before a failed removal is tried again (userdel may wait on another tool's lock of /etc/passwd,
 * a mount may be busy for a moment); the last one repeats.
 */
export const REMOVE_RETRY_MS: readonly number[] = [1_000, 5_000, 15_000, 60_000];

interface Spare {
  /** Settles with the space, or undefined when making it failed (said in the log already). */
  made: Promise<WorkerSpace | undefined>;
  expiry: NodeJS.Timeout | undefined;
  /** A lease of its slot has begun (getReady): its disk's space is reserved, or being reserved. */
  readied: boolean;
}

export class WorkerSpares {
  private readonly spares = new Map<string, Spare>();
  /** Removals under way: stop waits for them too. */
  private readonly undoing = new Set<Promise<void>>();
  private stopped = false;
  /** Cuts the pauses between removal attempts short when the agent stops. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly make: (slot: SlotModel) => Promise<WorkerSpace>,
    private readonly undo: (space: WorkerSpace) => Promise<void>,
    /** Reserves a space's disk on the host (Platform.reserveWorkerDisk). */
    private readonly reserve: (space: WorkerSpace) => Promise<void>,
    private readonly log: Logger,
    private readonly idleMs = SPARE_IDLE_MS,
    private readonly retryMs = REMOVE_RETRY_MS,
  ) {}

  /**
   * A lease of the slot has begun: the spare's disk is reserved now, while the lease's pre-lease check
   * runs, and not before, so a spare waiting for a job holds none of the host's disk. One that cannot be
   * reserved (no room) is removed: the lease then makes its own worker, and says why that fails.
   */
  getReady(slot: string): void {
    const spare = this.spares.get(slot);
    if (spare === undefined) return;
    // Not while a lease is under way: the clock starts again when it ends (slotIdle).
    clearTimeout(spare.expiry);
    spare.expiry = undefined;
    spare.readied = true;
    spare.made = spare.made.then(async (space) => {
      if (space === undefined || space.reserved) return space;
      try {
        await this.reserve(space);
        return { ...space, reserved: true };
      } catch (error) {
        this.log.warn({ err: coerceError(error), slot }, "could not reserve the disk of the slot's next worker");
        this.remove(Promise.resolve(space));
        return undefined;
      }
    });
  }

  /**
   * The slot's spare, waiting for it if it is still being made; undefined when it has none. Taken, it is the
   * caller's. `fits` says whether it still suits the lease (what it was made with may have changed while the
   * previous job ran): one that does not is removed, and so is one when `fits` throws, which take rethrows.
   */
  async take(slot: string, fits?: (space: WorkerSpace) => Promise<boolean>): Promise<WorkerSpace | undefined> {
    const spare = this.spares.get(slot);
    if (spare === undefined) return undefined;
    this.spares.delete(slot);
    clearTimeout(spare.expiry);
    const space = await spare.made;
    if (space === undefined || fits === undefined) return space;
    const fitting = await fits(space).catch((error: unknown) => {
      this.remove(Promise.resolve(space));
      throw error;
    });
    if (fitting) return space;
    this.log.info(
      { worker: space.workerId, slot },
      "the slot's worker made ahead no longer fits it; removed, the lease makes its own",
    );
    this.remove(Promise.resolve(space));
    return undefined;
  }

  /** Starts making the slot's next worker, unless it has one or the agent is stopping. */
  prepare(slot: SlotModel): void {
    if (this.stopped || this.spares.has(slot.name)) return;
    const spare: Spare = { made: Promise.resolve(undefined), expiry: undefined, readied: false };
    spare.made = this.make(slot).then(
      (space) => space,
      (error: unknown) => {
        this.log.warn(
          { err: coerceError(error), slot: slot.name },
          "could not make the slot's next worker ahead; its next job makes its own",
        );
        if (this.spares.get(slot.name) === spare) this.spares.delete(slot.name);
        return undefined;
      },
    );
    this.spares.set(slot.name, spare);
  }

  /**
   * The slot's lease has ended: its spare waits `idleMs` for the next job from now. A job of any length
   * keeps its slot's spare; a slot nobody uses any more lets it go. One whose disk the lease reserved but
   * did not take (its pre-lease check failed, or it was cancelled during it) goes now: there is no
   * giving the space back short of deleting the image, and a slot that failed its check may wait long.
   */
  slotIdle(slot: string): void {
    const spare = this.spares.get(slot);
    if (spare === undefined) return;
    if (spare.readied) {
      this.expire(slot, spare);
      return;
    }
    clearTimeout(spare.expiry);
    spare.expiry = setTimeout(() => this.expire(slot, spare), this.idleMs);
    spare.expiry.unref();
  }

  /**
   * Removes every spare, waiting for those still being made and for removals being retried (one more
   * attempt each, at once); no new one is made after this.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    const left = [...this.spares.values()];
    this.spares.clear();
    for (const spare of left) {
      clearTimeout(spare.expiry);
      this.remove(spare.made);
    }
    // Until none is left: a disk reservation failing meanwhile (getReady) starts one more removal.
    while (this.undoing.size > 0) await Promise.allSettled([...this.undoing]);
  }

  private expire(slot: string, spare: Spare): void {
    if (this.spares.get(slot) !== spare) return;
    this.spares.delete(slot);
    this.remove(spare.made);
  }

  private remove(made: Promise<WorkerSpace | undefined>): void {
    const removal = made
      .then((space) => (space === undefined ? undefined : this.removeUntilGone(space)))
      .finally(() => this.undoing.delete(removal));
    this.undoing.add(removal);
  }

  /** Tries until the space is gone; once the agent stops, the attempt after that is the last (each step is idempotent). */
  private async removeUntilGone(space: WorkerSpace): Promise<void> {
    const fields = { worker: space.workerId, slot: space.slot };
    let said: string | undefined;
    for (let attempt = 0; ; attempt += 1) {
      const last = this.stopped;
      try {
        await this.undo(space);
        if (said !== undefined) this.log.info({ ...fields, attempts: attempt + 1 }, 'removed a worker made ahead');
        return;
      } catch (error) {
        const err = coerceError(error);
        if (last) {
          this.log.error(
            { err, ...fields },
            'could not remove a worker made ahead; the next start removes what is left',
          );
          return;
        }
        // Said once per distinct error: one that stays stuck must not fill the log once a minute.
        if (err.message !== said)
          this.log.error({ err, ...fields }, 'could not remove a worker made ahead; trying again');
        said = err.message;
        await sleep(this.retryMs[attempt] ?? this.retryMs.at(-1), undefined, { signal: this.stopping.signal }).catch(
          () => undefined, // The agent is stopping: the next attempt is the last, at once.
        );
      }
    }
  }
}
