// Reads the audit log forward from where the previous read stopped. Events
// are append-only with increasing ids, so each scrape reads only what was
// appended since the last one, by primary key, in bounded batches.
import { and, asc, gt, inArray, lt, max, sql } from 'drizzle-orm';
import type { Db } from '../../db/open-database.js';
import { events } from '../../db/schema.js';

export interface TailedEvent {
  id: number;
  type: string;
  slot: string | null;
  jobId: string | null;
  data: Record<string, unknown> | null;
}

export class EventTail {
  private lastId: number;

  /** Starts after the last event recorded before `since` (ms), so what this agent's start recorded is read too. */
  constructor(
    private readonly db: Db,
    private readonly types: readonly string[],
    since: number,
  ) {
    this.lastId =
      db
        .select({ id: max(events.id) })
        .from(events)
        .where(lt(events.at, since))
        .get()?.id ?? 0;
  }

  /**
   * Hands `handle` the events of the wanted types appended since the last
   * batch it accepted, oldest first, at most `limit`; returns how many. The
   * position moves on only when `handle` returns, so a batch whose handling
   * failed is read again on the next call.
   */
  read(limit: number, handle: (batch: readonly TailedEvent[]) => void): number {
    // The data column is read raw and parsed per row: one row that is not JSON must not stop the tail for good.
    const rows = this.db
      .select({
        id: events.id,
        type: events.type,
        slot: events.slot,
        jobId: events.jobId,
        data: sql<string | null>`${events.data}`,
      })
      .from(events)
      .where(and(gt(events.id, this.lastId), inArray(events.type, [...this.types])))
      .orderBy(asc(events.id))
      .limit(limit)
      .all();
    const last = rows.at(-1);
    if (!last) return 0;
    handle(rows.map((row) => ({ ...row, data: parseData(row.data) })));
    this.lastId = last.id;
    return rows.length;
  }
}

function parseData(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
