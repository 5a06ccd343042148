// Persisted usage and hold of each configured slot.
import { inArray } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { slots, type HoldSource, type SlotUsage } from '../db/schema.js';

export interface Hold {
  reason: string;
  source: HoldSource;
  by: string | null;
  at: number;
  jobId: string | null;
  workerId: string | null;
  /** A job's hold that recovery may lift (on_mark_broken = "recover-then-hold"); false for every other hold. */
  recoverFirst: boolean;
}

export interface SlotState {
  name: string;
  usage: SlotUsage;
  usageChangedAt: number;
  leaseJobId: string | null;
  leaseWorkerId: string | null;
  hold: Hold | null;
}

/** Creates a row for every configured slot that has none; rows of removed slots are kept for history. */
export function ensureSlotRows(db: Pick<Db, 'insert'>, names: readonly string[]): void {
  if (names.length === 0) return;
  db.insert(slots)
    .values(names.map((name) => ({ name })))
    .onConflictDoNothing()
    .run();
}

export function readSlotStates(db: Pick<Db, 'select'>, names: readonly string[]): Map<string, SlotState> {
  const rows =
    names.length === 0
      ? []
      : db
          .select()
          .from(slots)
          .where(inArray(slots.name, [...names]))
          .all();
  return new Map(
    rows.map((row) => [
      row.name,
      {
        name: row.name,
        usage: row.usage,
        usageChangedAt: row.usageChangedAt,
        leaseJobId: row.leaseJobId,
        leaseWorkerId: row.leaseWorkerId,
        hold:
          row.holdReason !== null && row.holdSource !== null && row.holdAt !== null
            ? {
                reason: row.holdReason,
                source: row.holdSource,
                by: row.holdBy,
                at: row.holdAt,
                jobId: row.holdJobId,
                workerId: row.holdWorkerId,
                recoverFirst: row.holdRecoverFirst,
              }
            : null,
      },
    ]),
  );
}
