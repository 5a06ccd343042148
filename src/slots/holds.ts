// Holds (DESIGN §2): a sticky, persisted "keep this slot out of rotation",
// set by an operator, a job (mark-broken) or the system, cleared only by an
// operator's release. Each change and its audit event commit together.
//
// One hold per slot, and the first one stays: a second operator hold is
// refused (SlotHeldError) unless the operator asks to replace it, and a job's
// or the system's hold never replaces one (the operator's "reflashing RoT"
// must not turn into a job's message); it is recorded as an event instead.
import { eq } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { slots, type HoldSource } from '../db/schema.js';
import { readSlotStates, type Hold } from './slot-states.js';
import { heldMessage, holdSummary } from './hold-message.js';
import { holder, holdView } from './slot-view.js';

export class NotHeldError extends Error {
  override readonly name = 'NotHeldError';
}

/** An operator tried to hold a held slot without asking to replace the hold. */
export class SlotHeldError extends Error {
  override readonly name = 'SlotHeldError';
  constructor(
    readonly slot: string,
    readonly hold: Hold,
  ) {
    super(heldMessage(slot, holdView(hold)));
  }
}

export interface HoldRequest {
  reason: string;
  source: HoldSource;
  by: string;
  jobId?: string;
  workerId?: string;
  /** Operator holds only: replace the slot's current hold rather than be refused. */
  replace?: boolean;
  /** A job's hold that recovery tries to make unneeded first (on_mark_broken = "recover-then-hold"). */
  recoverFirst?: boolean;
}

export interface HoldResult {
  /** The slot's hold now. */
  hold: Hold;
  /** A new hold, an operator's explicit replacement, or the current hold kept (a job or system hold on a held slot). */
  outcome: 'held' | 'replaced' | 'kept';
  /** The hold the slot had before, if any. */
  previous: Hold | null;
}

/**
 * Holds a slot. On a held slot: an operator's hold throws SlotHeldError unless
 * `replace` is set; a job's or the system's keeps the current hold and records
 * a `slot.hold-kept` event. A replacement is a new hold (its `at` is now) and
 * its `slot.hold-replaced` event carries the hold it replaced.
 */
export function holdSlot(db: Db, slot: string, request: HoldRequest, at = Date.now()): HoldResult {
  return db.transaction((tx) => {
    const previous = readSlotStates(tx, [slot]).get(slot)?.hold ?? null;
    const wanted: Hold = {
      reason: request.reason,
      source: request.source,
      by: request.by,
      at,
      jobId: request.jobId ?? null,
      workerId: request.workerId ?? null,
      recoverFirst: request.recoverFirst === true,
    };
    const ids = { slot, jobId: request.jobId, workerId: request.workerId, actor: request.by };
    if (previous !== null && (request.source !== 'operator' || request.replace !== true)) {
      if (request.source === 'operator') throw new SlotHeldError(slot, previous);
      recordEvent(
        tx,
        {
          type: 'slot.hold-kept',
          ...ids,
          message: `${slot} stays held by ${holder(holdView(previous))}: ${previous.reason} (not replaced by the ${request.source} hold: ${request.reason})`,
          data: { source: request.source, reason: request.reason, hold: auditHold(previous) },
        },
        at,
      );
      return { hold: previous, outcome: 'kept', previous };
    }
    tx.update(slots)
      .set({
        holdReason: wanted.reason,
        holdSource: wanted.source,
        holdBy: wanted.by,
        holdAt: at,
        holdJobId: wanted.jobId,
        holdWorkerId: wanted.workerId,
        holdRecoverFirst: wanted.recoverFirst,
      })
      .where(eq(slots.name, slot))
      .run();
    recordEvent(
      tx,
      previous === null
        ? {
            type: 'slot.held',
            ...ids,
            message: `${slot} held (${request.source}): ${request.reason}`,
            data: { source: request.source, reason: request.reason },
          }
        : {
            type: 'slot.hold-replaced',
            ...ids,
            message: `${slot} hold replaced by ${holder(holdView(wanted))}: ${request.reason} (was held by ${holdSummary(holdView(previous))})`,
            data: { source: request.source, reason: request.reason, replaced: auditHold(previous) },
          },
      at,
    );
    return { hold: wanted, outcome: previous === null ? 'held' : 'replaced', previous };
  });
}

/** Clears a hold, recording who and why; throws NotHeldError when there is none. Returns the released hold. */
export function releaseSlot(
  db: Db,
  slot: string,
  release: { by: string; note?: string | undefined },
  at = Date.now(),
): Hold {
  return db.transaction((tx) => {
    const hold = readSlotStates(tx, [slot]).get(slot)?.hold ?? null;
    if (!hold) throw new NotHeldError(`slot ${slot} is not held`);
    tx.update(slots)
      .set({
        holdReason: null,
        holdSource: null,
        holdBy: null,
        holdAt: null,
        holdJobId: null,
        holdWorkerId: null,
        holdRecoverFirst: false,
      })
      .where(eq(slots.name, slot))
      .run();
    recordEvent(
      tx,
      {
        type: 'slot.released',
        slot,
        actor: release.by,
        message: `${slot} released${release.note ? `: ${release.note}` : ''} (was held by ${hold.source} ${hold.by ?? ''}: ${hold.reason})`,
        data: {
          note: release.note ?? null,
          held_for_ms: at - hold.at,
          hold: { reason: hold.reason, source: hold.source, by: hold.by },
        },
      },
      at,
    );
    return hold;
  });
}

/**
 * Recovery brought a slot back after its job marked it broken: the job's
 * provisional hold has done its work. Only that hold is lifted: one an operator
 * put (or a replacement) meanwhile stays, as only an operator may clear it.
 */
export function releaseRecoverFirstHold(db: Db, slot: string, note: string, at = Date.now()): boolean {
  const hold = readSlotStates(db, [slot]).get(slot)?.hold ?? null;
  if (hold === null || !hold.recoverFirst) return false;
  releaseSlot(db, slot, { by: 'labslot recovery', note }, at);
  return true;
}

/** Recovery did not bring the slot back: the job's hold stays as any hold does, with what was tried. */
export function keepHoldAfterRecovery(db: Db, slot: string, story: string, at = Date.now()): void {
  db.transaction((tx) => {
    const hold = readSlotStates(tx, [slot]).get(slot)?.hold ?? null;
    if (hold === null || !hold.recoverFirst) return;
    const reason = `${hold.reason} (recovery did not help: ${story})`.slice(0, 2_000);
    tx.update(slots).set({ holdReason: reason, holdRecoverFirst: false }).where(eq(slots.name, slot)).run();
    recordEvent(
      tx,
      {
        type: 'slot.hold-kept',
        slot,
        actor: 'labslot recovery',
        message: `${slot} stays held: ${reason}`,
        data: { source: hold.source, reason },
      },
      at,
    );
  });
}

/** A hold as events record it: enough to tell later who held the slot, why and since when. */
function auditHold(hold: Hold): Record<string, unknown> {
  return {
    reason: hold.reason,
    source: hold.source,
    by: hold.by,
    at: new Date(hold.at).toISOString(),
    job_id: hold.jobId,
  };
}
