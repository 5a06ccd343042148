// The slot usage state machine (DESIGN §2): every move a slot's usage may
// make, in one table, and moveSlot, the one function that writes usage. A
// move names the state it expects to leave and changes the row only if the
// slot is still in it, so a write never silently overwrites a state another
// writer (the reconciler, a second lease) left behind.
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { slots, type SlotUsage } from '../db/schema.js';

export interface SlotMove {
  from: SlotUsage;
  to: SlotUsage;
  /** Who makes this move, and when: the reason it is allowed. */
  when: string;
}

/**
 * Every allowed move. Anything else is refused (SlotTransitionError). A slot is
 * never idle before its cleanup has finished: the moves to idle come from a
 * lease with nothing to clean (no worker) or from a finished cleanup. A failed
 * cleanup makes no move: the slot stays as it is under a system hold until the
 * reconciler's retry finishes the cleanup and moves it to idle.
 */
export const SLOT_MOVES: readonly SlotMove[] = [
  { from: 'idle', to: 'leased', when: 'a queued job claims the slot (the scheduler)' },
  { from: 'leased', to: 'running', when: "the job's process has started" },
  {
    from: 'leased',
    to: 'cleaning',
    when: 'worker setup failed, the job could not start or was stopped before it did, or its start could not be recorded',
  },
  {
    from: 'leased',
    to: 'idle',
    when: 'the pre-lease check failed or the job was cancelled during it (no worker yet); or the reconciler finished a lease that never ran (an agent crash, a lost write)',
  },
  { from: 'running', to: 'cleaning', when: "the job's process ended" },
  {
    from: 'running',
    to: 'idle',
    when: 'the reconciler cleaned up a worker whose lease was lost mid-run (an agent crash, a lost write)',
  },
  {
    from: 'cleaning',
    to: 'idle',
    when: 'cleanup finished (the lease itself, or the reconciler retrying a failed one)',
  },
  {
    from: 'idle',
    to: 'recovering',
    when: 'recovery takes the idle slot to bring a failing device back (health/slot-recovery.ts)',
  },
  {
    from: 'recovering',
    to: 'idle',
    when: 'recovery ended (recovered, or held), or a restarted agent found it cut short',
  },
];

export function isSlotMove(from: SlotUsage, to: SlotUsage): boolean {
  return SLOT_MOVES.some((move) => move.from === from && move.to === to);
}

/** A move that is not in SLOT_MOVES: a bug in the caller, refused before anything is written. */
export class SlotTransitionError extends Error {
  override readonly name = 'SlotTransitionError';
  constructor(
    readonly slot: string,
    readonly from: SlotUsage,
    readonly to: SlotUsage,
  ) {
    super(`slot ${slot} may not move from ${from} to ${to}`);
  }
}

/**
 * The slot was not where the move expected it (another writer moved it, or it
 * is another job's lease now, or there is no such slot row): nothing was written.
 */
export class SlotUsageMismatchError extends Error {
  override readonly name = 'SlotUsageMismatchError';
  constructor(
    readonly slot: string,
    readonly expected: { usage: SlotUsage; jobId?: string },
    readonly found: { usage: SlotUsage; jobId: string | null } | undefined,
    readonly to: SlotUsage,
  ) {
    const wanted = expected.jobId === undefined ? expected.usage : `${expected.usage} for job ${expected.jobId}`;
    const seen =
      found === undefined
        ? 'no such slot'
        : found.jobId === null
          ? found.usage
          : `${found.usage} for job ${found.jobId}`;
    super(`slot ${slot} cannot move to ${to}: expected ${wanted}, found ${seen}`);
  }
}

/** A database or a transaction of it. */
export type SlotWriter = Pick<Db, 'update' | 'select'>;

export interface MoveOptions {
  /** Whose lease: leased records it; any other move only happens while the slot is still that job's. */
  jobId?: string;
  at?: number;
}

/**
 * Moves `slot` from `from` to `to`, in the caller's transaction if it passes
 * one (the move then commits or rolls back with the rest of the step). Idle
 * clears the lease; leased records `jobId` as it. Throws SlotTransitionError
 * for a move not in the table and SlotUsageMismatchError when the row was not
 * in `from` (or not `jobId`'s lease); in both cases nothing is written.
 */
export function moveSlot(
  tx: SlotWriter,
  slot: string,
  from: SlotUsage,
  to: 'leased',
  options: MoveOptions & { jobId: string },
): void;
export function moveSlot(
  tx: SlotWriter,
  slot: string,
  from: SlotUsage,
  to: Exclude<SlotUsage, 'leased'>,
  options?: MoveOptions,
): void;
export function moveSlot(
  tx: SlotWriter,
  slot: string,
  from: SlotUsage,
  to: SlotUsage,
  options: MoveOptions = {},
): void {
  if (!isSlotMove(from, to)) throw new SlotTransitionError(slot, from, to);
  const { at = Date.now() } = options;
  // Leased takes the job as its lease; every other move is a move of that job's lease only.
  const guard = to === 'leased' ? undefined : options.jobId;
  const lease =
    to === 'leased'
      ? { leaseJobId: options.jobId ?? null, leaseWorkerId: null }
      : to === 'idle'
        ? { leaseJobId: null, leaseWorkerId: null }
        : {};
  const moved = tx
    .update(slots)
    .set({ usage: to, usageChangedAt: at, ...lease })
    .where(
      and(eq(slots.name, slot), eq(slots.usage, from), guard === undefined ? undefined : eq(slots.leaseJobId, guard)),
    )
    .run();
  if (moved.changes > 0) return;
  const found = tx
    .select({ usage: slots.usage, jobId: slots.leaseJobId })
    .from(slots)
    .where(eq(slots.name, slot))
    .get();
  throw new SlotUsageMismatchError(slot, { usage: from, ...(guard === undefined ? {} : { jobId: guard }) }, found, to);
}

/** The usage of `slot` while it is still `jobId`'s lease; undefined once it is not (freed, or another job's). */
export function leaseUsage(tx: Pick<Db, 'select'>, slot: string, jobId: string): SlotUsage | undefined {
  return tx
    .select({ usage: slots.usage })
    .from(slots)
    .where(and(eq(slots.name, slot), eq(slots.leaseJobId, jobId)))
    .get()?.usage;
}
