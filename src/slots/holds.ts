// Holds (DESIGN §2): a sticky, persisted "keep this slot out of rotation",
// set by an operator, a job (mark-broken) or the system, cleared only by an
// operator's release. Each change and its audit event commit together.
import { eq } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { slots, type HoldSource } from '../db/schema.js';
import { readSlotStates, type Hold } from './slot-states.js';

export class NotHeldError extends Error {
  override readonly name = 'NotHeldError';
}

export interface HoldRequest {
  reason: string;
  source: HoldSource;
  by: string;
  jobId?: string;
  workerId?: string;
}

/** Holds a slot; holding a held slot replaces the reason and says what it replaced. Returns the hold. */
export function holdSlot(db: Db, slot: string, request: HoldRequest, at = Date.now()): Hold {
  return db.transaction((tx) => {
    const previous = readSlotStates(tx, [slot]).get(slot)?.hold ?? null;
    tx.update(slots)
      .set({ holdReason: request.reason, holdSource: request.source, holdBy: request.by, holdAt: at, holdJobId: request.jobId ?? null, holdWorkerId: request.workerId ?? null })
      .where(eq(slots.name, slot))
      .run();
    recordEvent(
      tx,
      {
        type: 'slot.held',
        slot,
        jobId: request.jobId,
        workerId: request.workerId,
        actor: request.by,
        message: previous ? `${slot} hold replaced (${request.source}): ${request.reason}` : `${slot} held (${request.source}): ${request.reason}`,
        data: { source: request.source, reason: request.reason, ...(previous ? { replaced: { reason: previous.reason, source: previous.source, by: previous.by } } : {}) },
      },
      at,
    );
    return { reason: request.reason, source: request.source, by: request.by, at, jobId: request.jobId ?? null, workerId: request.workerId ?? null };
  });
}

/** Clears a hold, recording who and why; throws NotHeldError when there is none. Returns the released hold. */
export function releaseSlot(db: Db, slot: string, release: { by: string; note?: string | undefined }, at = Date.now()): Hold {
  return db.transaction((tx) => {
    const hold = readSlotStates(tx, [slot]).get(slot)?.hold ?? null;
    if (!hold) throw new NotHeldError(`slot ${slot} is not held`);
    tx.update(slots).set({ holdReason: null, holdSource: null, holdBy: null, holdAt: null, holdJobId: null, holdWorkerId: null }).where(eq(slots.name, slot)).run();
    recordEvent(
      tx,
      {
        type: 'slot.released',
        slot,
        actor: release.by,
        message: `${slot} released${release.note ? `: ${release.note}` : ''} (was held by ${hold.source} ${hold.by ?? ''}: ${hold.reason})`,
        data: { note: release.note ?? null, held_for_ms: at - hold.at, hold: { reason: hold.reason, source: hold.source, by: hold.by } },
      },
      at,
    );
    return hold;
  });
}
