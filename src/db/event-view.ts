// The JSON shape of an audit event, shared by /v1/events and a slot's status.
import { desc, eq } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { events } from './schema.js';

export type EventRow = typeof events.$inferSelect;

export interface EventView {
  id: number;
  at: string;
  type: string;
  slot: string | null;
  device: string | null;
  job_id: string | null;
  worker_id: string | null;
  actor: string | null;
  message: string;
  data: Record<string, unknown> | null;
}

export function eventView(e: EventRow): EventView {
  return { id: e.id, at: new Date(e.at).toISOString(), type: e.type, slot: e.slot, device: e.device, job_id: e.jobId, worker_id: e.workerId, actor: e.actor, message: e.message, data: e.data };
}

/** The newest `limit` events of a slot, oldest first. */
export function recentSlotEvents(db: Db, slot: string, limit: number): EventView[] {
  return db.select().from(events).where(eq(events.slot, slot)).orderBy(desc(events.id)).limit(limit).all().reverse().map(eventView);
}
