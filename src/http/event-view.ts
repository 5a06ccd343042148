// Computes an audit event's JSON shape (api/event.ts), for /v1/events, a
// slot's status and the status page: the HTTP layer is its only reader.
import { desc, eq } from 'drizzle-orm';
import type { EventView } from '../api/event.js';
import type { Db } from '../db/open-database.js';
import { events } from '../db/schema.js';

export type EventRow = typeof events.$inferSelect;

export function eventView(e: EventRow): EventView {
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    type: e.type,
    slot: e.slot,
    device: e.device,
    job_id: e.jobId,
    worker_id: e.workerId,
    actor: e.actor,
    message: e.message,
    data: e.data,
  };
}

/** The newest `limit` events of a slot, oldest first. */
export function recentSlotEvents(db: Db, slot: string, limit: number): EventView[] {
  return db
    .select()
    .from(events)
    .where(eq(events.slot, slot))
    .orderBy(desc(events.id))
    .limit(limit)
    .all()
    .reverse()
    .map(eventView);
}
