// The lab's hosts (DESIGN §7): each agent registers itself at start (name,
// URL, version, what it serves) and heartbeats; a host whose heartbeat is
// older than [lab] host_timeout is offline. Slot names are the lab's: one slot
// name belongs to one host, so any agent can find a slot's owner.
import { and, asc, eq, inArray, ne, notInArray, sql } from 'drizzle-orm';
import { DB_NOW_MS } from './lab-clock.js';
import type { LabDb } from './lab-database.js';
import { LabMembershipError } from './lab-errors.js';
import { labHosts, labSlots, type HostTarget } from './lab-schema.js';

/** Any number, the same in every agent: registrations take it one at a time. */
const REGISTRATION_LOCK = 0x1ab5_108;

export interface HostRecord {
  name: string;
  url: string;
  version: string;
  instance: string;
  targets: Record<string, HostTarget>;
  maxTimeoutMs: number;
}

export interface LabHost extends HostRecord {
  startedAt: number;
  lastSeen: number;
  online: boolean;
}

/**
 * Joins the lab, or refuses to: a slot this host serves that another host
 * already has, or another agent alive under this host's name (a copied
 * config) would make two owners of one thing.
 */
export async function registerHost(db: LabDb, host: HostRecord, timeoutMs: number): Promise<void> {
  const slotNames = Object.values(host.targets).flatMap((t) => t.slots);
  await db.transaction(async (tx) => {
    // One registration at a time, lab-wide: two hosts starting together must not both take one slot name.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${REGISTRATION_LOCK})`);
    const taken = await tx
      .select({ name: labSlots.name, host: labSlots.host })
      .from(labSlots)
      .where(and(inArray(labSlots.name, slotNames), ne(labSlots.host, host.name)));
    const others = await tx.select().from(labHosts).where(ne(labHosts.name, host.name));
    const owner = new Map(
      others.flatMap((h) => Object.values(h.targets).flatMap((t) => t.slots.map((s) => [s, h.name]))),
    );
    for (const slot of slotNames) {
      const other = owner.get(slot) ?? taken.find((t) => t.name === slot)?.host;
      if (other !== undefined)
        throw new LabMembershipError(
          `slot ${slot} already belongs to host ${other} in this lab: slot names are the lab's, so rename one ` +
            `(or, if ${other} is gone for good, remove it: DELETE FROM lab_hosts WHERE name = '${other}')`,
        );
    }
    const [same] = await tx
      .select({ instance: labHosts.instance, url: labHosts.url, lastSeen: labHosts.lastSeen, now: DB_NOW_MS })
      .from(labHosts)
      .where(eq(labHosts.name, host.name))
      .for('update');
    if (same !== undefined && same.url !== host.url && same.now - same.lastSeen < timeoutMs)
      throw new LabMembershipError(
        `another agent is alive as host ${host.name} at ${same.url} (seen ${Math.round((same.now - same.lastSeen) / 1000)} s ago): ` +
          'give this one its own [agent] name',
      );
    // Slots this host no longer has (its config changed) leave the lab's view.
    await tx
      .delete(labSlots)
      .where(
        and(eq(labSlots.host, host.name), slotNames.length > 0 ? notInArray(labSlots.name, slotNames) : undefined),
      );
    const values = { ...host, startedAt: DB_NOW_MS, lastSeen: DB_NOW_MS };
    await tx.insert(labHosts).values(values).onConflictDoUpdate({ target: labHosts.name, set: values });
  });
}

/** Returns false when another instance has taken this host's name since: this agent is no longer the host. */
export async function heartbeat(
  db: LabDb,
  name: string,
  instance: string,
  targets: Record<string, HostTarget>,
): Promise<boolean> {
  const rows = await db
    .update(labHosts)
    .set({ lastSeen: DB_NOW_MS, targets })
    .where(and(eq(labHosts.name, name), eq(labHosts.instance, instance)))
    .returning({ name: labHosts.name });
  return rows.length > 0;
}

export async function listHosts(db: LabDb, timeoutMs: number): Promise<LabHost[]> {
  const rows = await db
    .select({
      name: labHosts.name,
      url: labHosts.url,
      version: labHosts.version,
      instance: labHosts.instance,
      targets: labHosts.targets,
      maxTimeoutMs: labHosts.maxTimeoutMs,
      startedAt: labHosts.startedAt,
      lastSeen: labHosts.lastSeen,
      now: DB_NOW_MS,
    })
    .from(labHosts)
    .orderBy(asc(labHosts.name));
  return rows.map(({ now, ...row }) => ({ ...row, online: now - row.lastSeen < timeoutMs }));
}
