// This agent as a member of a lab (DESIGN §7): its link to the shared
// database, which it keeps trying to (re)establish; and, while linked, the
// heartbeat, the LISTEN for queued jobs, the claims, and the pushes of its
// jobs, events and slots. Linked again after an outage, it first settles what
// the lab believes it runs, then claims again. Unlinked, the host runs and
// cleans up what it has and takes nothing new.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { LabModel } from '../config/lab-model.js';
import type { LabSettings } from '../config/schema.js';
import type { Db } from '../db/open-database.js';
import { coerceError } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { Scheduler } from '../jobs/scheduler.js';
import type { Logger } from '../log.js';
import type { HostState } from '../slots/availability.js';
import { EventMirror } from './event-mirror.js';
import { JobMirror } from './job-mirror.js';
import { LabClaims } from './lab-claims.js';
import {
  connectionConfig,
  databaseProblem,
  LabDatabaseError,
  describeDatabase,
  labDb,
  labPool,
  migrateLab,
  type LabDb,
} from './lab-database.js';
import { LabMembershipError, LabUnavailableError } from './lab-errors.js';
import { heartbeat, listHosts, registerHost, type LabHost } from './lab-hosts.js';
import { QUEUE_CHANNEL } from './lab-jobs.js';
import { readLabSummary, type LabSummary } from './lab-summary.js';
import { SlotMirror } from './slot-mirror.js';

const TICK_MS = 1_000;
/** Every this many ticks, the jobs the lab believes open here are pushed again if they changed. */
const OPEN_JOBS_EVERY_TICKS = 10;
const RETRY_MS = 2_000;
/** At most this long between heartbeats, whatever host_timeout allows. */
const MAX_HEARTBEAT_MS = 5_000;

export interface LabMemberDeps {
  lab: LabModel;
  settings: LabSettings;
  db: Db;
  log: Logger;
  version: string;
  monitor: HealthMonitor;
  host: () => HostState;
  /** The URL other hosts and clients reach this agent at. */
  url: () => string;
  /** How this agent verifies the other agents' certificates ([lab] ca, read at start). */
  peerTls: { ca?: string };
  scheduler: () => Scheduler | undefined;
}

export interface LinkState {
  connected: boolean;
  /** Why not, while not. */
  problem: string | null;
  since: number;
}

export class LabMember {
  readonly claims: LabClaims;
  readonly instance = randomUUID();
  /** How this agent verifies the other agents' certificates ([lab] ca). */
  readonly peerTls: { ca?: string };
  private readonly jobs: JobMirror;
  private readonly events: EventMirror;
  private readonly slots: SlotMirror;
  private readonly log: Logger;
  private pool: pg.Pool | undefined;
  private shared: LabDb | undefined;
  private listener: pg.Client | undefined;
  private migrated = false;
  private link: LinkState = { connected: false, problem: 'not connected yet', since: Date.now() };
  private timer: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private ticks = 0;
  private ticking: Promise<void> | undefined;
  private flushSoon = false;
  /** The push last started or queued, and the one queued behind it that new callers share. */
  private lastPush: Promise<void> = Promise.resolve();
  private nextPush: Promise<void> | undefined;
  /** The lab as of the last tick, for /metrics (which reads it synchronously). */
  summary: LabSummary | undefined;
  private stopped = false;

  constructor(private readonly deps: LabMemberDeps) {
    this.log = deps.log.child({ lab: describeDatabase(deps.settings.database) });
    this.peerTls = deps.peerTls;
    const name = deps.lab.agentName;
    this.jobs = new JobMirror(deps.db, name);
    this.events = new EventMirror(deps.db, name);
    this.slots = new SlotMirror(deps.lab, deps.db, name, deps.host);
    this.claims = new LabClaims({
      lab: deps.lab,
      db: deps.db,
      log: deps.log,
      monitor: deps.monitor,
      scheduler: deps.scheduler,
      host: deps.host,
      hostName: name,
      labDb: () => (this.link.connected ? this.shared : undefined),
      onDatabaseError: (error) => this.lost(error),
    });
  }

  get name(): string {
    return this.deps.lab.agentName;
  }

  get state(): LinkState {
    return this.link;
  }

  get timeoutMs(): number {
    return this.deps.settings.host_timeout;
  }

  /** The shared database while linked; a 503 for the caller otherwise. */
  database(): LabDb {
    if (this.link.connected && this.shared !== undefined) return this.shared;
    throw new LabUnavailableError(
      `the lab database is out of reach (${this.link.problem ?? 'not connected'}); try again`,
    );
  }

  /**
   * The first link, awaited by the agent's start: a membership conflict (a slot
   * another host has) refuses the start; a database out of reach does not, it is
   * retried (the host still runs and cleans up what it has, and says why it claims nothing).
   */
  async start(): Promise<void> {
    await this.connect().catch((error: unknown) => {
      if (error instanceof LabMembershipError || error instanceof LabDatabaseError) throw error;
      this.lost(error);
    });
    this.schedule(this.link.connected ? TICK_MS : RETRY_MS);
  }

  /** Something changed here (a slot, a hold, a device's health): the lab sees it at once, and queued jobs are looked at. */
  poke(): void {
    if (!this.link.connected) return;
    this.claims.poke();
    this.pushSoon();
  }

  /** A job's row changed here: the lab hears of it at once. */
  noteJob(jobId: string): void {
    this.jobs.note(jobId);
    this.pushSoon();
  }

  private pushSoon(): void {
    if (this.flushSoon || !this.link.connected) return;
    this.flushSoon = true;
    setImmediate(() => {
      this.flushSoon = false;
      void this.pushAll().catch((error: unknown) => this.lost(error));
    });
  }

  async hosts(): Promise<LabHost[]> {
    return listHosts(this.database(), this.timeoutMs);
  }

  /** After the jobs have stopped: their last states go to the lab (if it is there), then the link closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.claims.settle();
    if (this.link.connected && this.shared !== undefined)
      await this.pushAll().catch((error: unknown) =>
        this.log.warn(
          { err: coerceError(error) },
          'could not tell the lab the last job states; it hears them at the next start',
        ),
      );
    await this.closeListener();
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
    this.shared = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.link.connected ? TICK_MS : RETRY_MS);
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (!this.link.connected) await this.connect();
      else {
        for (const id of this.deps.scheduler()?.active().jobs ?? []) this.jobs.note(id);
        // Now and then, every job the lab thinks is open here: the reconciler ends some without the scheduler.
        if ((this.ticks += 1) % OPEN_JOBS_EVERY_TICKS === 0) await this.jobs.noteOpen(this.database());
        await this.pushAll();
        const every = Math.min(MAX_HEARTBEAT_MS, this.timeoutMs / 3);
        if (Date.now() - this.lastBeat >= every) await this.beat();
        this.claims.poke();
        this.summary = await readLabSummary(this.database(), await this.hosts(), this.name);
      }
    } catch (error) {
      this.lost(error);
    }
  }

  private async connect(): Promise<void> {
    const { lab, settings } = this.deps;
    this.pool ??= labPool(settings, lab.file, lab.agentName, lab.slots.size + 8, this.log);
    this.shared ??= labDb(this.pool);
    if (!this.migrated) {
      await migrateLab(this.pool);
      this.migrated = true;
    }
    await registerHost(
      this.shared,
      {
        name: lab.agentName,
        url: this.deps.url(),
        version: this.deps.version,
        instance: this.instance,
        targets: this.slots.targets(),
        maxTimeoutMs: lab.config.jobs.timeout,
      },
      this.timeoutMs,
    );
    this.lastBeat = Date.now();
    // Settled before any claim: what the lab believes this host runs is what this host's record says.
    await this.jobs.reconcile(this.shared);
    this.events.forget();
    this.slots.forget();
    await this.pushAll();
    await this.listen();
    const was = this.link;
    this.link = { connected: true, problem: null, since: Date.now() };
    this.log.info({ after_ms: was.connected ? 0 : Date.now() - was.since }, 'linked to the lab database');
    this.claims.poke();
  }

  /**
   * One push at a time: two at once (a job's change and the tick) each read
   * rows and write them on their own pool connections, so an older row could
   * land after a newer one and stay there. A push asked for during one runs
   * once it is over, shared by everyone who asked meanwhile.
   */
  private pushAll(): Promise<void> {
    if (this.nextPush === undefined) {
      const next = this.lastPush
        .catch(() => undefined)
        .then(() => {
          this.nextPush = undefined;
          return this.pushOnce();
        });
      this.nextPush = next;
      this.lastPush = next;
    }
    return this.nextPush;
  }

  private async pushOnce(): Promise<void> {
    const db = this.shared;
    if (db === undefined) return;
    await this.jobs.flush(db);
    await this.events.flush(db);
    await this.slots.flush(db);
  }

  private async beat(): Promise<void> {
    const db = this.database();
    this.lastBeat = Date.now();
    if (!(await heartbeat(db, this.name, this.instance, this.slots.targets())))
      throw new LabMembershipError(`another agent has joined the lab as ${this.name}; this one claims nothing more`);
  }

  private async listen(): Promise<void> {
    await this.closeListener();
    const { settings, lab } = this.deps;
    const client = new pg.Client({
      ...connectionConfig(settings, lab.file),
      application_name: `labslot ${lab.agentName} listen`.slice(0, 63),
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client.on('error', (error) => this.lost(error));
    client.on('notification', () => this.claims.poke());
    try {
      await client.connect();
      await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    } catch (error) {
      // A client that connected keeps its socket (and the process) alive until it is ended.
      await client.end().catch(() => undefined);
      throw error;
    }
    this.listener = client;
  }

  private async closeListener(): Promise<void> {
    const client = this.listener;
    this.listener = undefined;
    if (client === undefined) return;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
  }

  private lost(error: unknown): void {
    const problem = error instanceof LabMembershipError ? error.message : databaseProblem(error);
    const was = this.link;
    if (was.connected || was.problem !== problem)
      this.log[was.connected ? 'warn' : 'error'](
        { problem },
        was.connected
          ? 'lost the lab database: running jobs go on, nothing new is claimed until it is back'
          : 'cannot reach the lab database; retrying',
      );
    this.link = { connected: false, problem, since: was.connected ? Date.now() : was.since };
    void this.closeListener();
  }
}
