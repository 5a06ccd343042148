// Reads a device's stored check results. In db/ rather than health/ because
// both health (the store that writes them) and slots (the slot view that shows
// them) read them, and slots sits below health (DESIGN §5).
import { and, desc, eq, gte } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { checkResults } from './schema.js';

export interface StoredResult {
  ok: boolean;
  reason: string;
  detail: string | null;
  durationMs: number;
  at: number;
  trigger: string;
}

/** The newest `limit` results of a device, newest first; with `since`, only those checked at or after it. */
export function checkHistory(db: Db, device: string, limit: number, since?: number): StoredResult[] {
  return db
    .select({
      ok: checkResults.ok,
      reason: checkResults.reason,
      detail: checkResults.detail,
      durationMs: checkResults.durationMs,
      at: checkResults.at,
      trigger: checkResults.trigger,
    })
    .from(checkResults)
    .where(
      since === undefined
        ? eq(checkResults.device, device)
        : and(eq(checkResults.device, device), gte(checkResults.at, since)),
    )
    .orderBy(desc(checkResults.id))
    .limit(limit)
    .all();
}
