// The drizzle schema of a lab's shared PostgreSQL database (DESIGN §7): what
// every host's agent must see alike. Migrations in drizzle-lab/ are generated
// from this file (`npm run db:generate:lab`) and applied at agent start, under
// an advisory lock so that agents starting together migrate once.
// What only one host can act on (workers, grants, check history) stays in its
// SQLite file. Times are milliseconds since the epoch, from PostgreSQL's clock
// where hosts compare them (heartbeats), so their clocks need not agree.
import { bigint, boolean, customType, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { HumilityArchive } from '../config/humility-archive.js';
import type { JobEnd, JobInput, JobState } from '../db/schema.js';

const ms = (name: string) => bigint(name, { mode: 'number' });

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** What a host tells the lab about one target it serves, for submissions and "waiting" on any host. */
export interface HostTarget {
  slots: string[];
  /** Probe names in HUMILITY_ENVIRONMENT of the target's slots (a submission's archives must name one). */
  probes: string[];
  /** How this host's slots of the target stand: "1 held, 1 free". */
  waiting: string;
  /** The same per slot, for a job that asked for one: "held (operator: reflashing)". */
  slotWaiting: Record<string, string>;
}

/** Every agent of the lab: registered at start, seen at every heartbeat. */
export const labHosts = pgTable('lab_hosts', {
  name: text('name').primaryKey(),
  url: text('url').notNull(),
  version: text('version').notNull(),
  /** Random per start: a second agent under the same name is told apart from a restart. */
  instance: text('instance').notNull(),
  startedAt: ms('started_at').notNull(),
  lastSeen: ms('last_seen').notNull(),
  targets: jsonb('targets').$type<Record<string, HostTarget>>().notNull(),
  /** Longest job timeout this host takes ([jobs] timeout). */
  maxTimeoutMs: ms('max_timeout_ms').notNull(),
});

/** The lab's one queue, and every job's record: the same columns as a host's jobs table, plus who runs it. */
export const labJobs = pgTable(
  'lab_jobs',
  {
    id: text('id').primaryKey(),
    /** The host that claimed it; null while queued (or cancelled before any host took it). */
    host: text('host'),
    /** The agent it was submitted to. */
    submittedVia: text('submitted_via').notNull(),
    target: text('target').notNull(),
    argv: jsonb('argv').$type<string[]>(),
    script: text('script'),
    env: jsonb('env').$type<Record<string, string>>().notNull(),
    timeoutMs: ms('timeout_ms').notNull(),
    priority: integer('priority').notNull().default(0),
    state: text('state').$type<JobState>().notNull().default('queued'),
    slot: text('slot'),
    workerId: text('worker_id'),
    submittedBy: text('submitted_by'),
    submittedAt: ms('submitted_at').notNull(),
    startedAt: ms('started_at'),
    endedAt: ms('ended_at'),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    endReason: text('end_reason'),
    endedBy: text('ended_by').$type<JobEnd>(),
    infrastructure: boolean('infrastructure').notNull().default(false),
    input: text('input').$type<JobInput>().notNull().default('none'),
    archives: jsonb('archives').$type<Record<string, HumilityArchive>>(),
    outputsBytes: ms('outputs_bytes'),
    waiting: text('waiting'),
    requestedSlot: text('requested_slot'),
    allowHeldBy: text('allow_held_by'),
  },
  (t) => [index('lab_jobs_queue').on(t.state, t.priority, t.submittedAt), index('lab_jobs_host').on(t.host, t.state)],
);

/** A queued job's input archive, until the host that runs it has taken it. */
export const labJobInputs = pgTable('lab_job_inputs', {
  jobId: text('job_id').primaryKey(),
  archive: bytea('archive').notNull(),
});

/** Every host's slots as its own GET /v1/slots shows them, for one view of the lab. */
export const labSlots = pgTable(
  'lab_slots',
  {
    name: text('name').primaryKey(),
    host: text('host').notNull(),
    target: text('target').notNull(),
    view: jsonb('view').$type<Record<string, unknown>>().notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('lab_slots_host').on(t.host)],
);

/** The lab's audit log: every host's events (local_id is the host's own), and submissions. */
export const labEvents = pgTable(
  'lab_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    host: text('host').notNull(),
    /** The event's id in its host's SQLite log; null for events written here first (a submission). */
    localId: integer('local_id'),
    at: ms('at').notNull(),
    type: text('type').notNull(),
    slot: text('slot'),
    device: text('device'),
    jobId: text('job_id'),
    workerId: text('worker_id'),
    actor: text('actor'),
    message: text('message').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>(),
  },
  (t) => [
    uniqueIndex('lab_events_host_local').on(t.host, t.localId),
    index('lab_events_at').on(t.at),
    index('lab_events_slot').on(t.slot, t.id),
  ],
);
