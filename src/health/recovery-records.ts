// What recovery writes (DESIGN §9), each change with its audit event in one
// transaction: taking an idle slot for recovery (only when no job has it, it
// is not held, and no conflicting slot is in use: a power cycle of a shared
// outlet must not cut another slot's job), giving it back, and how many rounds
// it has had lately, from the events themselves (a restart keeps the count).
import { and, count, countDistinct, eq, gte, max } from 'drizzle-orm';
import type { SlotModel } from '../config/lab-model.js';
import { recordEvent, type NewEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { events } from '../db/schema.js';
import { readSlotStates } from '../slots/slot-states.js';
import { moveSlot } from '../slots/slot-usage.js';

export function beginRecovery(db: Db, slot: SlotModel, devices: readonly string[], at = Date.now()): boolean {
  return db.transaction((tx) => {
    const states = readSlotStates(tx, [slot.name, ...slot.conflicts]);
    const own = states.get(slot.name);
    // A hold keeps recovery away, except a job's that asked for recovery first.
    if (own?.usage !== 'idle' || (own.hold !== null && !own.hold.recoverFirst)) return false;
    if (slot.conflicts.some((other) => (states.get(other)?.usage ?? 'idle') !== 'idle')) return false;
    moveSlot(tx, slot.name, 'idle', 'recovering', { at });
    recordEvent(
      tx,
      {
        type: 'recovery.started',
        slot: slot.name,
        message: `${slot.name}: recovering ${devices.join(', ')}`,
        data: { devices, target: slot.target },
      },
      at,
    );
    return true;
  });
}

/** Gives the slot back (idle); `event` says how it ended, in the same transaction. */
export function endRecovery(db: Db, slot: string, event?: NewEvent, at = Date.now()): void {
  db.transaction((tx) => {
    moveSlot(tx, slot, 'recovering', 'idle', { at });
    if (event !== undefined) recordEvent(tx, event, at);
  });
}

/** Rounds of recovery the slot has had since `since`. */
export function roundsSince(db: Db, slot: string, since: number): number {
  const row = db
    .select({ n: count() })
    .from(events)
    .where(and(eq(events.slot, slot), eq(events.type, 'recovery.round'), gte(events.at, since)))
    .get();
  return row?.n ?? 0;
}

/** Health changes of a device since `since` (one per change, however many slots share the device). */
export function healthChangesSince(db: Db, device: string, since: number): number {
  const row = db
    .select({ n: countDistinct(events.at) })
    .from(events)
    .where(and(eq(events.device, device), eq(events.type, 'health.changed'), gte(events.at, since)))
    .get();
  return row?.n ?? 0;
}

/** When an operator last released the slot (0: never): flapping before that is forgiven. */
export function lastReleaseAt(db: Db, slot: string): number {
  const row = db
    .select({ at: max(events.at) })
    .from(events)
    .where(and(eq(events.slot, slot), eq(events.type, 'slot.released')))
    .get();
  return row?.at ?? 0;
}
