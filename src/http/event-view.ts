// A slot's recent audit events, for its status and the status page (the
// mapping to JSON is slots/event-view.ts, shared with the lab's log).
import { desc, eq } from 'drizzle-orm';
import type { EventView } from '../api/event.js';
import type { Db } from '../db/open-database.js';
import { events } from '../db/schema.js';
import { eventView } from '../slots/event-view.js';

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
    .map((e) => eventView(e));
}
