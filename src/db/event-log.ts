// The audit log (DESIGN §4 GET /v1/events): one row per thing an operator may
// later ask "when and why did that happen?" about.
import type { Db } from './open-database.js';
import { events } from './schema.js';

export interface NewEvent {
  type: string;
  message: string;
  slot?: string;
  device?: string;
  jobId?: string;
  workerId?: string;
  actor?: string;
  data?: Record<string, unknown>;
}

/** Takes the database or a transaction, so events commit with the change they describe. */
export function recordEvent(db: Pick<Db, 'insert'>, event: NewEvent, at = Date.now()): void {
  db.insert(events)
    .values({ ...event, at })
    .run();
}
