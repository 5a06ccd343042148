// The lab as any agent shows it (DESIGN §7): every host's slots, the lab's
// events, and why a queued job waits, across hosts. Read from the shared
// database; a host that is offline has its slots shown as such.
import { and, asc, desc, eq, gt, gte, ne, type SQL } from 'drizzle-orm';
import type { EventView } from '../api/event.js';
import type { SlotView } from '../api/slot.js';
import { eventView } from '../slots/event-view.js';
import { holdSummary } from '../slots/hold-message.js';
import type { LabDb } from './lab-database.js';
import type { LabHost } from './lab-hosts.js';
import type { LabJobRow } from './lab-jobs.js';
import { labEvents, labSlots } from './lab-schema.js';

export function offlineDetail(host: LabHost): string {
  return `host ${host.name} is offline (its agent last reported at ${new Date(host.lastSeen).toISOString()})`;
}

/** Why a queued job has no slot yet, across the lab: "gimlet: lab-host-1: 1 held, 0 free; lab-host-2: offline". */
export function labWaiting(job: LabJobRow, hosts: readonly LabHost[]): string | null {
  if (job.state !== 'queued') return null;
  if (job.input === 'awaiting') return 'waiting for its input archive';
  const slot = job.requestedSlot;
  if (slot !== null) {
    const owner = hosts.find((h) => h.targets[job.target]?.slots.includes(slot));
    if (owner === undefined) return `slot ${slot}: no host of the lab has it any more`;
    if (!owner.online) return `slot ${slot}: ${offlineDetail(owner)}`;
    return `slot ${slot} (${owner.name}): ${owner.targets[job.target]?.slotWaiting[slot] ?? 'unknown'}`;
  }
  const serving = hosts.filter((h) => h.targets[job.target] !== undefined);
  if (serving.length === 0) return `${job.target}: no host of the lab serves it any more`;
  const parts = serving.map((h) => `${h.name}: ${h.online ? (h.targets[job.target]?.waiting ?? '') : 'offline'}`);
  return `${job.target}: ${parts.join('; ')}`;
}

/** The slots of the lab's other hosts, as each last published them. */
export async function otherHostsSlots(db: LabDb, hosts: readonly LabHost[], me: string): Promise<SlotView[]> {
  const rows = await db.select().from(labSlots).where(ne(labSlots.host, me)).orderBy(asc(labSlots.name));
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return rows.map((row) => shownSlot(row.view as unknown as SlotView, byName.get(row.host)));
}

/** A slot of another host: as published, or, when that host is offline, unavailable for that reason. */
export function shownSlot(view: SlotView, host: LabHost | undefined): SlotView {
  if (host?.online === true) return view;
  const detail = host === undefined ? `host ${view.host} has left the lab` : offlineDetail(host);
  return { ...view, available: false, unavailable: { kind: 'host', detail } };
}

export async function labSlot(db: LabDb, name: string): Promise<{ host: string; view: SlotView } | undefined> {
  const [row] = await db.select().from(labSlots).where(eq(labSlots.name, name));
  return row === undefined ? undefined : { host: row.host, view: row.view as unknown as SlotView };
}

export interface EventFilter {
  slot?: string | undefined;
  host?: string | undefined;
  since?: number | undefined;
  afterId?: number | undefined;
  limit: number;
}

/** The lab's events, oldest first: forward from a starting point, or the newest `limit`. */
export async function labEventsPage(db: LabDb, filter: EventFilter): Promise<EventView[]> {
  const conditions: SQL[] = [];
  if (filter.slot !== undefined) conditions.push(eq(labEvents.slot, filter.slot));
  if (filter.host !== undefined) conditions.push(eq(labEvents.host, filter.host));
  if (filter.since !== undefined) conditions.push(gte(labEvents.at, filter.since));
  if (filter.afterId !== undefined) conditions.push(gt(labEvents.id, filter.afterId));
  const forward = filter.afterId !== undefined || filter.since !== undefined;
  const rows = await db
    .select()
    .from(labEvents)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(forward ? asc(labEvents.id) : desc(labEvents.id))
    .limit(filter.limit);
  if (!forward) rows.reverse();
  return rows.map((e) => eventView(e, e.host));
}

/** Held slots of the lab and their holds in words, as their hosts last published them (a submission naming one is refused). */
export async function heldLabSlots(db: LabDb): Promise<Map<string, string>> {
  const rows = await db.select({ name: labSlots.name, view: labSlots.view }).from(labSlots);
  const held = new Map<string, string>();
  for (const row of rows) {
    const hold = (row.view as unknown as SlotView).hold;
    if (hold !== null) held.set(row.name, holdSummary(hold));
  }
  return held;
}
