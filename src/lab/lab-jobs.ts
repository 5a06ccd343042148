// The lab's one queue in PostgreSQL (DESIGN §7): any agent enqueues, the host
// that claims a job copies it into its own database and runs it, and its
// record here follows the host's (job-mirror.ts). A queued job is cancelled
// here; one a host has claimed is that host's to stop.
import { and, asc, desc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { formatDuration } from '../config/duration.js';
import type { JobState } from '../db/schema.js';
import { newJobId } from '../jobs/ids.js';
import { JobRefusedError, UnknownTargetError } from '../jobs/job-refusals.js';
import type { JobRequest } from '../jobs/job-request.js';
import type { JobRow } from '../jobs/job-view.js';
import { SlotNotFoundError } from '../slots/slot-named.js';
import type { LabDb } from './lab-database.js';
import type { LabHost } from './lab-hosts.js';
import { labEvents, labJobs } from './lab-schema.js';

/** The channel agents LISTEN on: a job was queued (or came back to the queue). */
export const QUEUE_CHANNEL = 'labslot_queue';

export type LabJobRow = typeof labJobs.$inferSelect;

/** A lab job as a host's jobs table holds it: the columns they share. */
export function asJobRow(row: LabJobRow): JobRow {
  const { host: _host, submittedVia: _via, ...job } = row;
  return job;
}

export interface LabPlacement {
  target: string;
  slot: string | null;
  allowHeldBy: string | null;
}

/** Checks a submission against what the lab's hosts serve (any host, online or not: it may come back). */
export function placeLabJob(
  hosts: readonly LabHost[],
  request: JobRequest,
  by: string,
  heldSlot: (slot: string) => string | undefined,
): LabPlacement {
  let target = request.target;
  let slot: string | null = null;
  if (request.slot !== undefined) {
    const owner = hosts.find((h) => Object.values(h.targets).some((t) => t.slots.includes(request.slot ?? '')));
    if (owner === undefined)
      throw new SlotNotFoundError(
        `no slot ${request.slot} on any host of this lab (slots: ${hosts
          .flatMap((h) => Object.values(h.targets).flatMap((t) => t.slots))
          .sort()
          .join(', ')})`,
      );
    const slotTarget = Object.entries(owner.targets).find(([, t]) => t.slots.includes(request.slot ?? ''))?.[0] ?? '';
    if (target !== undefined && target !== slotTarget)
      throw new JobRefusedError(
        'slot',
        `slot "${request.slot}" serves target "${slotTarget}", not target "${target}" (leave out the target, or name a slot of it)`,
      );
    target = slotTarget;
    slot = request.slot;
    const held = heldSlot(request.slot);
    if (held !== undefined && !request.allow_held)
      throw new JobRefusedError(
        'slot',
        `slot ${request.slot} is held (${held}); a job for it would wait until the hold is released, so it is refused ` +
          '(an operator may run a job on a held slot to debug it: "allow_held": true, labslot job run --allow-held)',
      );
  }
  const name = target ?? '';
  const serving = hosts.filter((h) => h.targets[name] !== undefined);
  if (serving.length === 0) {
    const known = [...new Set(hosts.flatMap((h) => Object.keys(h.targets)))].sort();
    throw new UnknownTargetError(`no host of this lab serves target "${name}" (targets: ${known.join(', ')})`);
  }
  const limit = Math.max(...serving.map((h) => h.maxTimeoutMs));
  if (request.timeout !== undefined && request.timeout > limit)
    throw new JobRefusedError(
      'timeout',
      `${formatDuration(request.timeout)} is over the limit of every host serving ${name} (${formatDuration(limit)}, [jobs] timeout)`,
    );
  const probes = [...new Set(serving.flatMap((h) => h.targets[name]?.probes ?? []))];
  for (const archive of Object.keys(request.archives ?? {}))
    if (!probes.includes(archive))
      throw new JobRefusedError(
        `archives.${archive}`,
        `no slot of target "${name}" has a probe named "${archive}" in HUMILITY_ENVIRONMENT (${probes.length === 0 ? 'its slots have no probes' : `its probes: ${probes.join(', ')}`})`,
      );
  return { target: name, slot, allowHeldBy: slot !== null && request.allow_held ? by : null };
}

export async function enqueueLabJob(
  db: LabDb,
  request: JobRequest,
  place: LabPlacement,
  by: string,
  via: string,
  defaultTimeoutMs: number,
): Promise<LabJobRow> {
  const id = newJobId();
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(labJobs)
      .values({
        id,
        submittedVia: via,
        target: place.target,
        requestedSlot: place.slot,
        allowHeldBy: place.allowHeldBy,
        argv: request.argv ?? null,
        script: request.script ?? null,
        env: request.env,
        timeoutMs: request.timeout ?? defaultTimeoutMs,
        priority: request.priority,
        input: request.input ? 'awaiting' : 'none',
        archives: Object.keys(request.archives ?? {}).length > 0 ? (request.archives ?? null) : null,
        submittedBy: by,
        submittedAt: Date.now(),
      })
      .returning();
    if (row === undefined) throw new Error('the insert returned no row');
    await tx.insert(labEvents).values({
      host: via,
      at: row.submittedAt,
      type: 'job.submitted',
      jobId: id,
      actor: by,
      message:
        place.slot === null
          ? `job ${id} submitted for ${place.target} through ${via}`
          : `job ${id} submitted for slot ${place.slot} through ${via}`,
      data: { target: place.target, priority: request.priority, ...(place.slot === null ? {} : { slot: place.slot }) },
    });
    // Delivered at commit: every agent serving the target looks at once.
    await tx.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${place.target})`);
    return row;
  });
}

export async function readLabJob(db: LabDb, id: string): Promise<LabJobRow | undefined> {
  const [row] = await db.select().from(labJobs).where(eq(labJobs.id, id));
  return row;
}

export async function listLabJobs(
  db: LabDb,
  filter: { state?: JobState | undefined; target?: string | undefined; limit: number },
): Promise<LabJobRow[]> {
  const conditions: SQL[] = [];
  if (filter.state !== undefined) conditions.push(eq(labJobs.state, filter.state));
  if (filter.target !== undefined) conditions.push(eq(labJobs.target, filter.target));
  return db
    .select()
    .from(labJobs)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(labJobs.submittedAt), desc(labJobs.id))
    .limit(filter.limit);
}

/** Cancels a job no host has claimed; false when a host has it (or it has ended). */
export async function cancelQueuedLabJob(db: LabDb, id: string, by: string, via: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const at = Date.now();
    const rows = await tx
      .update(labJobs)
      .set({ state: 'cancelled', endedAt: at, endReason: `cancelled by ${by}`, endedBy: 'cancel', waiting: null })
      .where(and(eq(labJobs.id, id), eq(labJobs.state, 'queued'), isNull(labJobs.host)))
      .returning({ id: labJobs.id });
    if (rows.length === 0) return false;
    await tx.insert(labEvents).values({
      host: via,
      at,
      type: 'job.cancelled',
      jobId: id,
      actor: by,
      message: `job ${id} cancelled while queued`,
      data: { state: 'cancelled', ended_by: 'cancel' },
    });
    return true;
  });
}

/** Queue depth and the oldest queued job's submission time per target, lab-wide. */
export async function labQueueByTarget(db: LabDb): Promise<Map<string, { queued: number; oldestAt: number }>> {
  const rows = await db
    .select({
      target: labJobs.target,
      queued: sql<number>`count(*)::int`,
      oldestAt: sql<number>`min(${labJobs.submittedAt})`.mapWith(Number),
    })
    .from(labJobs)
    .where(eq(labJobs.state, 'queued'))
    .groupBy(labJobs.target);
  return new Map(rows.map((r) => [r.target, { queued: r.queued, oldestAt: r.oldestAt }]));
}

/** Jobs this host claimed that are not over, as the lab last heard of them. */
export async function openJobsOf(db: LabDb, host: string): Promise<LabJobRow[]> {
  return db
    .select()
    .from(labJobs)
    .where(and(eq(labJobs.host, host), inArray(labJobs.state, ['leased', 'running', 'cleaning'])))
    .orderBy(asc(labJobs.submittedAt));
}
