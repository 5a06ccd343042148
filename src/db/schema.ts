// The drizzle schema of labslot's SQLite database. Migrations in drizzle/ are
// generated from this file (`npm run db:generate`) and applied at agent start.
// Times are integer milliseconds since the epoch; JSON columns hold text.
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { HumilityArchive } from '../config/humility-archive.js';
import type { JobState } from './job-states.js';

/** `recovering`: no job, the agent is trying to bring a failing device back (DESIGN §9). */
export type SlotUsage = 'idle' | 'leased' | 'running' | 'cleaning' | 'recovering';
export type HoldSource = 'operator' | 'job' | 'system';
export type DeviceHealthState = 'unknown' | 'healthy' | 'unhealthy';
/** What ended a job: its own exit or signal, the clock, a limit, a cancel, or the lab. */
export type JobEnd = 'exit' | 'signal' | 'timeout' | 'limit' | 'cancel' | 'infrastructure';
/** A job's input archive: none asked for, asked for and not uploaded yet, or extracted. */
export type JobInput = 'none' | 'awaiting' | 'ready';
export { JOB_STATES, type JobState } from './job-states.js';
export type WorkerState = 'creating' | 'running' | 'stopping' | 'cleaning' | 'destroyed' | 'cleanup-failed';

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;

/** Usage and hold of every slot: the two persisted parts of the slot state model (DESIGN §2). */
export const slots = sqliteTable('slots', {
  name: text('name').primaryKey(),
  usage: text('usage').$type<SlotUsage>().notNull().default('idle'),
  usageChangedAt: integer('usage_changed_at').notNull().default(now),
  leaseJobId: text('lease_job_id'),
  leaseWorkerId: text('lease_worker_id'),
  holdReason: text('hold_reason'),
  holdSource: text('hold_source').$type<HoldSource>(),
  holdBy: text('hold_by'),
  holdAt: integer('hold_at'),
  holdJobId: text('hold_job_id'),
  holdWorkerId: text('hold_worker_id'),
  /** A job's mark-broken hold under on_mark_broken = "recover-then-hold": recovery runs first, and lifts it if the slot comes back. */
  holdRecoverFirst: integer('hold_recover_first', { mode: 'boolean' }).notNull().default(false),
});

/** Health of every device: counters of consecutive results and the last result. */
export const deviceHealth = sqliteTable('device_health', {
  device: text('device').primaryKey(),
  state: text('state').$type<DeviceHealthState>().notNull().default('unknown'),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  consecutiveSuccesses: integer('consecutive_successes').notNull().default(0),
  totalChecks: integer('total_checks').notNull().default(0),
  totalFailures: integer('total_failures').notNull().default(0),
  lastOk: integer('last_ok', { mode: 'boolean' }),
  lastReason: text('last_reason'),
  lastDetail: text('last_detail'),
  lastDurationMs: integer('last_duration_ms'),
  lastCheckedAt: integer('last_checked_at'),
  stateChangedAt: integer('state_changed_at'),
});

/** Bounded history of check results per device (trimmed to [health] history). */
export const checkResults = sqliteTable(
  'check_results',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    device: text('device').notNull(),
    at: integer('at').notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    reason: text('reason').notNull(),
    detail: text('detail'),
    durationMs: integer('duration_ms').notNull(),
    /** What caused the check: interval, hotplug, pre-lease, manual, release. */
    trigger: text('trigger').notNull(),
  },
  (t) => [index('check_results_device_id').on(t.device, t.id)],
);

/** The audit log: holds, releases, leases, health transitions, cleanup failures, agent starts. */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull().default(now),
    type: text('type').notNull(),
    slot: text('slot'),
    device: text('device'),
    jobId: text('job_id'),
    workerId: text('worker_id'),
    actor: text('actor'),
    message: text('message').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [index('events_slot_id').on(t.slot, t.id), index('events_at').on(t.at)],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    target: text('target').notNull(),
    argv: text('argv', { mode: 'json' }).$type<string[]>(),
    script: text('script'),
    env: text('env', { mode: 'json' }).$type<Record<string, string>>().notNull().default({}),
    timeoutMs: integer('timeout_ms').notNull(),
    priority: integer('priority').notNull().default(0),
    state: text('state').$type<JobState>().notNull().default('queued'),
    slot: text('slot'),
    workerId: text('worker_id'),
    submittedBy: text('submitted_by'),
    submittedAt: integer('submitted_at').notNull().default(now),
    startedAt: integer('started_at'),
    endedAt: integer('ended_at'),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    endReason: text('end_reason'),
    endedBy: text('ended_by').$type<JobEnd>(),
    /** The failure is the lab's (mark-broken, setup failure, agent restart), not the job's own. */
    infrastructure: integer('infrastructure', { mode: 'boolean' }).notNull().default(false),
    input: text('input').$type<JobInput>().notNull().default('none'),
    /** Hubris archives the submitter named for HUMILITY_ENVIRONMENT, by humility target; paths inside the input. */
    archives: text('archives', { mode: 'json' }).$type<Record<string, HumilityArchive>>(),
    /** Bytes kept from $LABSLOT_OUTPUT (null: nothing kept). */
    outputsBytes: integer('outputs_bytes'),
    /** Why a queued job has no slot yet, for `GET /v1/jobs/:id`. */
    waiting: text('waiting'),
    /** The one slot the submitter asked for (`job run --slot`); null: any slot of the target. */
    requestedSlot: text('requested_slot'),
    /** The operator who let this job run on its slot although the slot is held (`--allow-held`); null: never on a held slot. */
    allowHeldBy: text('allow_held_by'),
  },
  (t) => [
    index('jobs_queue').on(t.state, t.target, t.priority, t.submittedAt),
    index('jobs_slot').on(t.slot, t.submittedAt),
  ],
);

/** Ephemeral Unix users that run jobs; kept after destruction for the audit trail. */
export const workers = sqliteTable(
  'workers',
  {
    id: text('id').primaryKey(),
    jobId: text('job_id')
      .notNull()
      .references(() => jobs.id),
    slot: text('slot').notNull(),
    username: text('username').notNull(),
    uid: integer('uid').notNull(),
    gid: integer('gid').notNull(),
    tokenHash: text('token_hash').notNull(),
    state: text('state').$type<WorkerState>().notNull().default('creating'),
    rootDir: text('root_dir').notNull(),
    createdAt: integer('created_at').notNull().default(now),
    destroyedAt: integer('destroyed_at'),
    cleanupError: text('cleanup_error'),
    /** The name of the worker's packet-filter rules (nftables chain), written before they are made; null: none. */
    networkPolicy: text('network_policy'),
  },
  (t) => [index('workers_state').on(t.state)],
);

/** Device nodes re-owned for a worker, with what to restore; written before the change. */
export const deviceGrants = sqliteTable(
  'device_grants',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workerId: text('worker_id')
      .notNull()
      .references(() => workers.id),
    device: text('device').notNull(),
    path: text('path').notNull(),
    origUid: integer('orig_uid').notNull(),
    origGid: integer('orig_gid').notNull(),
    origMode: integer('orig_mode').notNull(),
    grantedAt: integer('granted_at').notNull().default(now),
    restoredAt: integer('restored_at'),
  },
  (t) => [index('device_grants_worker').on(t.workerId)],
);
