// One lease from claim to idle (DESIGN §3): the fresh pre-lease check, worker
// setup, the job's run with its timeout and output cap, the stop sequence
// (SIGTERM, grace, SIGKILL of everything the worker's UID owns), and cleanup,
// which always runs. The slot is idle again only when cleanup has finished.
// When a step cannot even be recorded (the database is locked or the disk
// full), the run still stops its job and cleans up what it can; the agent's
// reconciler finishes the bookkeeping later.
import { stat } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import { formatSize } from '../config/size.js';
import type { Db } from '../db/open-database.js';
import { workers } from '../db/schema.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { coerceError, isDiskFull } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { Logger } from '../log.js';
import type { JobExit, Platform } from '../platform/platform.js';
import { holdSlot } from '../slots/holds.js';
import { newWorkerId } from './ids.js';
import { jobOutputPath } from './job-paths.js';
import { decideOutcome, infrastructureFailure, type JobOutcome, type StopCause } from './job-outcome.js';
import type { JobRow } from './job-view.js';
import { completeLease, markCleaning, markRunning, returnToQueue } from './lease-records.js';
import { retryWrite } from './retry-write.js';
import { cleanupWithRetries, outputsPolicy, recordCleanupFailure } from './worker-cleanup.js';
import { setupWorker, type PreparedWorker } from './worker-setup.js';

export interface LeaseDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  monitor: HealthMonitor;
  agentUrl: () => string;
  commandDir: string;
  listUsb: () => Promise<UsbDeviceInfo[]>;
  platform: Platform;
}

/** How long a job that marked its slot broken may take to finish on its own before it is stopped. */
const MARK_BROKEN_STOP_DELAY_MS = 1_000;
/** After SIGKILL, how long a process stuck in the kernel (a hung USB ioctl) may take before the run gives up on it. */
const KILL_DEADLINE_MS = 10_000;
const OUTPUT_POLL_MS = 1_000;

export class LeaseRun {
  readonly workerId = newWorkerId();
  private cause: StopCause | undefined;
  private worker: PreparedWorker | undefined;
  private running: Promise<JobExit> | undefined;
  private stopping: Promise<void> | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private finished = false;
  private giveUp: () => void = () => undefined;
  /** Resolves when the job's processes survived every SIGKILL: the run goes on to cleanup without their exit. */
  private readonly abandoned = new Promise<void>((resolve) => (this.giveUp = resolve));
  private readonly log: Logger;

  constructor(
    private readonly deps: LeaseDeps,
    readonly job: JobRow,
    readonly slot: SlotModel,
  ) {
    this.log = deps.log.child({ job: job.id, slot: slot.name, worker: this.workerId });
  }

  /** Runs the whole lease; never rejects. Resolves once the slot is idle, or held after a failed cleanup. */
  async execute(): Promise<void> {
    try {
      if (!(await this.preLeaseCheck())) return;
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'pre-lease step could not be recorded; the reconciler frees the slot');
      return;
    }
    let outcome: JobOutcome;
    try {
      outcome = await this.setupAndRun();
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'lease failed unexpectedly; stopping the job and cleaning up');
      outcome = infrastructureFailure(`agent error: ${coerceError(error).message}`);
      if (this.worker) await this.deps.platform.killWorker(this.worker.account, KILL_DEADLINE_MS);
    }
    await this.cleanup(outcome);
  }

  /**
   * Asks the job to stop. The first cause decides the outcome; a stop during
   * setup takes effect before the job starts. `delayMs` lets a job that has just
   * marked its slot broken print and exit on its own first.
   */
  stop(cause: StopCause, delayMs = 0): void {
    if (this.finished) return;
    this.cause ??= cause;
    if (delayMs > 0) {
      this.stopTimer ??= setTimeout(() => this.stop(cause), delayMs);
      return;
    }
    clearTimeout(this.stopTimer);
    if (this.worker && this.running) this.stopping ??= this.stopSequence(this.worker);
  }

  markBroken(message: string): void {
    this.stop({ kind: 'marked-broken', message }, MARK_BROKEN_STOP_DELAY_MS);
  }

  /** Read through a method: a stop may arrive while an await is pending, which TypeScript's narrowing cannot see. */
  private stopCause(): StopCause | undefined {
    return this.cause;
  }

  private async preLeaseCheck(): Promise<boolean> {
    const { monitor, db } = this.deps;
    const results = await monitor.checkNow(this.slot.devices, 'pre-lease', { mode: 'active', definitive: true });
    const failed = [...results].filter(([, r]) => r?.ok !== true);
    if (failed.length === 0) return true;
    const why = failed.map(([device, r]) => `${device}: ${r?.reason ?? 'not checked (agent stopping)'}`).join('; ');
    this.log.warn({ why }, 'pre-lease check failed');
    const cause = this.stopCause();
    if (cause?.kind === 'cancel') {
      // Cancelled while its check ran: nothing was set up, the slot goes straight back.
      await retryWrite(() => completeLease(db, { jobId: this.job.id, workerId: null, slot: this.slot.name }, decideOutcome({ code: null, signal: null }, cause)));
    } else {
      await retryWrite(() => returnToQueue(db, this.job.id, this.slot.name, why));
    }
    this.finished = true;
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
        platform: this.deps.platform,
        log: this.log,
      });
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'worker setup failed');
      // A full state directory is the host's problem, not the slot's: no hold (the host check stops leasing).
      return { ...infrastructureFailure(`worker setup failed: ${coerceError(error).message}`), holdSlot: !isDiskFull(error) };
    }
    const early = this.stopCause();
    if (early) return decideOutcome({ code: null, signal: null }, early);

    let started;
    try {
      started = await this.deps.platform.startJob({ ...this.worker.launch, maxOutputBytes: await this.outputBudget() });
    } catch (error) {
      return { ...infrastructureFailure(`could not start the job: ${coerceError(error).message}`), holdSlot: true };
    }
    this.running = started.exited;
    this.log.info({ pid: started.pid, uid: this.worker.account.uid }, 'job started');
    const timeout = setTimeout(() => this.stop({ kind: 'timeout', afterMs: this.job.timeoutMs }), this.job.timeoutMs);
    const outputWatch = setInterval(() => void this.checkOutputSize(), OUTPUT_POLL_MS);
    try {
      // A failure to record the start must not leave a job running unrecorded: it is stopped at once.
      try {
        markRunning(db, this.job.id, this.workerId, this.slot.name);
      } catch (error) {
        this.stop({ kind: 'agent-error', message: `could not record the job's start: ${coerceError(error).message}` });
      }
      const exit = await Promise.race([started.exited, this.abandoned.then((): JobExit => ({ code: null, signal: null, abandoned: true }))]);
      if (exit.spawnError !== undefined) return { ...infrastructureFailure(`could not start the job: ${exit.spawnError}`), holdSlot: true };
      let cause = this.stopCause();
      // A limit the kernel enforced (OOM kill, failed forks) is the reason a failed job failed, even past its timeout.
      const verdict = await this.deps.platform.limitVerdict(this.worker.account, this.worker.launch.limits);
      if (verdict !== undefined && exit.code !== 0 && (cause === undefined || cause.kind === 'timeout')) cause = { kind: 'limit', reason: verdict };
      // The cap cut the output before the poll saw it (the job then died of SIGPIPE, or even exited 0).
      if (cause === undefined && (await this.outputSize()) > this.deps.lab.config.jobs.max_output) cause = this.outputLimit();
      this.log.info({ code: exit.code, signal: exit.signal, cause: cause?.kind, abandoned: exit.abandoned === true }, 'job exited');
      return decideOutcome(exit, cause);
    } finally {
      clearTimeout(timeout);
      clearInterval(outputWatch);
      clearTimeout(this.stopTimer);
    }
  }

  /**
   * A job may not fill the state directory's disk with output. The platform lets through one byte more
   * than the cap leaves (what the file already holds counts: the agent's notes, output from before a
   * restart), so a file over the cap proves the job wrote past it, and nothing further reaches the file.
   */
  private async outputBudget(): Promise<number> {
    return Math.max(0, this.deps.lab.config.jobs.max_output - (await this.outputSize())) + 1;
  }

  /** Past the cap the job is stopped: its writes fail already, but it may ignore that. */
  private async checkOutputSize(): Promise<void> {
    if ((await this.outputSize()) > this.deps.lab.config.jobs.max_output) this.stop(this.outputLimit());
  }

  private async outputSize(): Promise<number> {
    try {
      return (await stat(jobOutputPath(this.deps.lab.stateDir, this.job.id))).size;
    } catch {
      // The file is made at submission; if it is gone there is nothing to cap.
      return 0;
    }
  }

  private outputLimit(): StopCause {
    return { kind: 'limit', reason: `output exceeded the limit of ${formatSize(this.deps.lab.config.jobs.max_output)} ([jobs] max_output)` };
  }

  /** SIGTERM to everything the worker's UID runs, `stop_grace` to finish, then SIGKILL until none is left. */
  private async stopSequence({ account }: PreparedWorker): Promise<void> {
    const { lab, platform } = this.deps;
    const grace = lab.config.jobs.stop_grace;
    this.log.info({ cause: this.cause?.kind, graceMs: grace }, 'stopping job');
    await platform.signalWorker(account, 'SIGTERM');
    if (await platform.waitWorkerGone(account, grace)) return;
    const left = await platform.killWorker(account, KILL_DEADLINE_MS);
    if (left.length === 0) return;
    this.log.error({ pids: left }, 'job processes survived SIGKILL; cleaning up without them');
    this.giveUp();
  }

  private async cleanup(outcome: JobOutcome): Promise<void> {
    const { db } = this.deps;
    const lease = { jobId: this.job.id, workerId: this.workerId, slot: this.slot.name };
    try {
      // On a full disk the outcome cannot be written yet: cleanup frees the worker's disk first, then it is
      // written. Retrying here instead would leave it to the reconciler, which no longer knows how the job ended.
      let recorded = true;
      try {
        markCleaning(db, lease, outcome);
      } catch (error) {
        if (!isDiskFull(error)) await retryWrite(() => markCleaning(db, lease, outcome));
        else {
          recorded = false;
          this.log.warn({ err: coerceError(error) }, 'state directory full: cleaning up before recording how the job ended');
        }
      }
      await this.stopping;
      const row = db.select().from(workers).where(eq(workers.id, this.workerId)).get();
      try {
        if (row) await cleanupWithRetries(db, this.deps.platform, row, outputsPolicy(this.deps.lab));
      } catch (error) {
        this.log.error({ err: coerceError(error) }, 'worker cleanup failed; slot held');
        if (!recorded) await retryWrite(() => markCleaning(db, lease, outcome));
        await retryWrite(() => recordCleanupFailure(db, lease, outcome, error));
        return;
      }
      if (!recorded) await retryWrite(() => markCleaning(db, lease, outcome));
      await retryWrite(() => completeLease(db, row ? lease : { ...lease, workerId: null }, outcome));
      if (outcome.holdSlot === true) {
        // A slot where workers cannot even be set up would fail every job sent to it (DESIGN §2: a system hold).
        await retryWrite(() => holdSlot(db, this.slot.name, { reason: outcome.reason, source: 'system', by: 'labslot', jobId: this.job.id, workerId: this.workerId }));
      }
      this.log.info({ state: outcome.state, reason: outcome.reason }, 'lease complete, slot idle');
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'lease could not be recorded; the reconciler finishes it');
    } finally {
      this.finished = true;
    }
  }
}
