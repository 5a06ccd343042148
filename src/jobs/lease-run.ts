// One lease from claim to idle (DESIGN §3): the fresh pre-lease check, worker
// setup, the job's run with its timeout, the stop sequence (SIGTERM, grace,
// SIGKILL of everything the worker's UID owns), and cleanup, which always
// runs. The slot is idle again only when cleanup has finished.
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { coerceError } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { Logger } from '../log.js';
import { killUser, signalUser, waitUserGone } from '../platform/user-processes.js';
import { newWorkerId } from './ids.js';
import { jobOutputPath } from './job-paths.js';
import { decideOutcome, infrastructureFailure, type JobOutcome, type StopCause } from './job-outcome.js';
import { startJobProcess, type JobExit } from './job-process.js';
import type { JobRow } from './job-view.js';
import { completeLease, markCleaning, markRunning, returnToQueue } from './lease-records.js';
import { cleanupWithRetries, recordCleanupFailure, type WorkerRow } from './worker-cleanup.js';
import { setupWorker, type PreparedWorker } from './worker-setup.js';
import { eq } from 'drizzle-orm';
import { workers } from '../db/schema.js';

export interface LeaseDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  monitor: HealthMonitor;
  agentUrl: () => string;
  commandDir: string;
  listUsb: () => Promise<UsbDeviceInfo[]>;
}

/** How long a job that marked its slot broken may take to finish on its own before it is stopped. */
const MARK_BROKEN_STOP_DELAY_MS = 1_000;

export class LeaseRun {
  readonly workerId = newWorkerId();
  private cause: StopCause | undefined;
  private worker: PreparedWorker | undefined;
  private running: Promise<JobExit> | undefined;
  private stopping: Promise<void> | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly deps: LeaseDeps,
    readonly job: JobRow,
    readonly slot: SlotModel,
  ) {
    this.log = deps.log.child({ job: job.id, slot: slot.name, worker: this.workerId });
  }

  /** Runs the whole lease; never rejects. Resolves once the slot is idle (or held after a failed cleanup). */
  async execute(): Promise<void> {
    try {
      if (!(await this.preLeaseCheck())) return;
      const outcome = await this.setupAndRun();
      await this.cleanup(outcome);
    } catch (error) {
      // Only a database failure gets here; the agent log is all that is left to tell.
      this.log.error({ err: coerceError(error) }, 'lease failed unexpectedly');
    }
  }

  /**
   * Asks the job to stop. The first cause decides the outcome; a stop during
   * setup takes effect before the job starts. `delayMs` lets a job that has just
   * marked its slot broken print and exit on its own first.
   */
  stop(cause: StopCause, delayMs = 0): void {
    this.cause ??= cause;
    if (delayMs > 0) {
      this.stopTimer ??= setTimeout(() => this.stop(cause), delayMs);
      return;
    }
    clearTimeout(this.stopTimer);
    if (this.worker && this.running) this.stopping ??= this.stopSequence(this.worker);
  }

  /** Read through a method: a stop may arrive while an await is pending, which TypeScript's narrowing cannot see. */
  private stopCause(): StopCause | undefined {
    return this.cause;
  }

  markBroken(message: string): void {
    this.stop({ kind: 'marked-broken', message }, MARK_BROKEN_STOP_DELAY_MS);
  }

  private async preLeaseCheck(): Promise<boolean> {
    const { monitor, db } = this.deps;
    const results = await monitor.checkNow(this.slot.devices, 'pre-lease', { mode: 'active', definitive: true });
    const failed = [...results].filter(([, r]) => r?.ok !== true);
    if (failed.length === 0) return true;
    const why = failed.map(([device, r]) => `${device}: ${r?.reason ?? 'not checked (agent stopping)'}`).join('; ');
    this.log.warn({ why }, 'pre-lease check failed');
    if (this.cause?.kind === 'cancel') {
      // Cancelled while its check ran: nothing was set up, the slot goes straight back.
      completeLease(db, { jobId: this.job.id, workerId: null, slot: this.slot.name }, decideOutcome({ code: null, signal: null }, this.cause));
    } else {
      returnToQueue(db, this.job.id, this.slot.name, why);
    }
    return false;
  }

  private async setupAndRun(): Promise<JobOutcome> {
    const { lab, db } = this.deps;
    try {
      this.worker = await setupWorker({
        lab,
        db,
        slot: this.slot,
        job: this.job,
        workerId: this.workerId,
        agentUrl: this.deps.agentUrl(),
        commandDir: this.deps.commandDir,
        listUsb: this.deps.listUsb,
      });
    } catch (error) {
      const message = coerceError(error).message;
      this.log.error({ err: coerceError(error) }, 'worker setup failed');
      return infrastructureFailure(`worker setup failed: ${message}`);
    }
    if (this.cause) return decideOutcome({ code: null, signal: null }, this.cause);

    let started;
    try {
      started = startJobProcess(this.worker, jobOutputPath(lab.stateDir, this.job.id));
    } catch (error) {
      return infrastructureFailure(`could not start the job: ${coerceError(error).message}`);
    }
    this.running = started.exited;
    markRunning(db, this.job.id, this.workerId, this.slot.name);
    this.log.info({ pid: started.pid, uid: this.worker.uid }, 'job started');
    const timeout = setTimeout(() => this.stop({ kind: 'timeout', afterMs: this.job.timeoutMs }), this.job.timeoutMs);
    try {
      const exit = await started.exited;
      if (exit.spawnError !== undefined) return infrastructureFailure(`could not start the job: ${exit.spawnError}`);
      const cause = this.stopCause();
      this.log.info({ code: exit.code, signal: exit.signal, cause: cause?.kind }, 'job exited');
      return decideOutcome(exit, cause);
    } finally {
      clearTimeout(timeout);
      clearTimeout(this.stopTimer);
    }
  }

  /** SIGTERM to everything the worker's UID runs, `stop_grace` to finish, then SIGKILL until none is left. */
  private async stopSequence(worker: PreparedWorker): Promise<void> {
    const grace = this.deps.lab.config.jobs.stop_grace;
    this.log.info({ cause: this.cause?.kind, graceMs: grace }, 'stopping job');
    signalUser(worker.uid, 'SIGTERM');
    if (!(await waitUserGone(worker.uid, grace))) {
      const left = await killUser(worker.uid, 10_000);
      this.log.info({ left: left.length }, 'job killed after its grace period');
    }
  }

  private async cleanup(outcome: JobOutcome): Promise<void> {
    const { db } = this.deps;
    const lease = { jobId: this.job.id, workerId: this.workerId, slot: this.slot.name };
    markCleaning(db, this.job.id, this.slot.name, outcome);
    await this.stopping;
    const row: WorkerRow | undefined = db.select().from(workers).where(eq(workers.id, this.workerId)).get();
    try {
      if (row) await cleanupWithRetries(db, row);
      completeLease(db, row ? lease : { ...lease, workerId: null }, outcome);
      this.log.info({ state: outcome.state, reason: outcome.reason }, 'lease complete, slot idle');
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'worker cleanup failed; slot held');
      recordCleanupFailure(db, lease, outcome, error);
    }
  }
}
