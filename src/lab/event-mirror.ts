// This host's audit log, copied into the lab's (DESIGN §7) so that GET
// /v1/events on any agent tells the whole lab's story. Each event keeps its
// host and its id there, so a push repeated after an outage adds nothing twice.
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { events } from '../db/schema.js';
import type { LabDb } from './lab-database.js';
import { labEvents } from './lab-schema.js';

const BATCH = 500;

export class EventMirror {
  /** The newest of this host's events the lab has; read from the lab on the first push. */
  private pushedId: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly hostName: string,
  ) {}

  /** After a reconnection the lab is asked again: it is the record of what it has. */
  forget(): void {
    this.pushedId = undefined;
  }

  async flush(labDb: LabDb): Promise<void> {
    if (this.pushedId === undefined) {
      const [row] = await labDb
        .select({ id: sql<number | null>`max(${labEvents.localId})` })
        .from(labEvents)
        .where(eq(labEvents.host, this.hostName));
      this.pushedId = row?.id ?? 0;
    }
    for (;;) {
      const rows = this.db
        .select()
        .from(events)
        .where(and(gt(events.id, this.pushedId)))
        .orderBy(asc(events.id))
        .limit(BATCH)
        .all();
      if (rows.length === 0) return;
      await labDb
        .insert(labEvents)
        .values(rows.map(({ id, ...event }) => ({ ...event, host: this.hostName, localId: id })))
        .onConflictDoNothing();
      this.pushedId = rows[rows.length - 1]?.id ?? this.pushedId;
      if (rows.length < BATCH) return;
    }
  }
}
