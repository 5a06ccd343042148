// One lease from claim to idle (DESIGN §3): the fresh pre-lease check, worker
// setup, the job's run with its timeout and output cap, the stop sequence
// (SIGTERM, grace, SIGKILL of everything the worker's UID owns), and cleanup,
// which always runs. The slot is idle again only when cleanup has finished.
// When a step cannot even be recorded (the database is locked or the disk
// full), the run still stops its job and cleans up what it can; the agent's
// reconciler finishes the bookkeeping later. The run's phases, and what each
// carries, are in lease-phase.ts.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import { formatSize } from '../config/size.js';
import type { Db } from '../db/open-database.js';
import { workers } from '../db/schema.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { coerceError, isDiskFull } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/platform.js';
import { holdSlot } from '../slots/holds.js';
import { freshCheck } from './fresh-check.js';
import { LeaseClock } from './lease-clock.js';
import { newWorkerId } from './ids.js';
import { powerAfterJob } from './power-after-job.js';
import { jobOutputPath } from './job-paths.js';
import { decideOutcome, infrastructureFailure, type JobOutcome, type StopCause } from './job-outcome.js';
import { ABANDONED_EXIT, phaseFields, slotUsageOf, stopOf, workerOf, type LeasePhase } from './lease-phase.js';
import type { JobRow } from './job-view.js';
import { completeLease, markCleaning, markRunning, returnToQueue } from './lease-records.js';
import { retryWrite } from './retry-write.js';
import { cleanupWithRetries, outputsPolicy, recordCleanupFailure, type WorkerRow } from './worker-cleanup.js';
import { bindWorker, type PreparedWorker } from './worker-setup.js';
import { makeWorkerSpace, policyStillHolds, undoWorkerSpace } from './worker-space.js';
import type { WorkerSpares } from './worker-spares.js';

export interface LeaseDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  monitor: HealthMonitor;
  agentUrl: () => string;
  commandDir: string;
  listUsb: () => Promise<UsbDeviceInfo[]>;
  platform: Platform;
  /** Workers made ahead ([jobs] prepare_ahead); absent: each lease makes its own. */
  spares?: WorkerSpares;
}

/** How long a job that marked its slot broken may take to finish on its own before it is stopped. */
const MARK_BROKEN_STOP_DELAY_MS = 1_000;
/** After SIGKILL, how long a process stuck in the kernel (a hung USB ioctl) may take before the run gives up on it. */
const KILL_DEADLINE_MS = 10_000;
const OUTPUT_POLL_MS = 1_000;
/** How soon a stop that found nothing of the worker yet looks again. */
const STOP_RETRY_MS = 20;

export class LeaseRun {
  /** The worker's id: the one made for this lease, or the slot's spare's once taken. */
  workerId = newWorkerId();
  /** Where the lease is; every change of kind is logged (enter). */
  private phase: LeasePhase = { kind: 'checking', stop: undefined };
  /** A delayed stop (mark-broken) that has not started its stop sequence yet. */
  private stopTimer: NodeJS.Timeout | undefined;
  private giveUp: () => void = () => undefined;
  /** Resolves when the job's processes survived every SIGKILL: the run goes on to cleanup without their exit. */
  private readonly abandoned = new Promise<void>((resolve) => (this.giveUp = resolve));
  private log: Logger;
  /** Whether its worker was made ahead, while the slot's previous job ran (worker-spares.ts). */
  private ahead = false;
  /** The job's first process has exited (its sandbox is gone, or never became the worker). */
  private jobExited = false;
  /** Where this lease's time goes; its last log line carries it (bench/lease.ts reads it). */
  private readonly clock = new LeaseClock();

  constructor(
    private readonly deps: LeaseDeps,
    readonly job: JobRow,
    readonly slot: SlotModel,
    /** The fresh pre-lease check has passed already (the lab's claim runs it before it commits). */
    private readonly checked = false,
  ) {
    this.log = deps.log.child({ job: job.id, slot: slot.name });
    // From submission to this lease (milliseconds on the wall clock, as the job's record keeps them).
    this.clock.add('queued', Date.now() - job.submittedAt);
  }

  /** Runs the whole lease; never rejects. Resolves once the slot is idle, or held after a failed cleanup. */
  async execute(): Promise<void> {
    // A worker made ahead gets its disk's space while the check runs.
    this.deps.spares?.getReady(this.slot.name);
    try {
      await this.run();
    } finally {
      // From now on the slot's spare, if it has one, waits for the next job for a while.
      this.deps.spares?.slotIdle(this.slot.name);
    }
  }

  private async run(): Promise<void> {
    try {
      if (!(await this.preLeaseCheck())) return;
    } catch (error) {
      this.log.error(
        { err: coerceError(error) },
        'pre-lease step could not be recorded; the reconciler frees the slot',
      );
      this.enter({ kind: 'done', end: 'unrecorded' });
      return;
    }
    let outcome: JobOutcome;
    try {
      outcome = await this.setupAndRun();
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'lease failed unexpectedly; stopping the job and cleaning up');
      outcome = infrastructureFailure(`agent error: ${coerceError(error).message}`);
      const worker = workerOf(this.phase);
      if (worker) await this.deps.platform.killWorker(worker.account, KILL_DEADLINE_MS);
    }
    await this.cleanup(outcome);
  }

  /**
   * Asks the job to stop. The first cause decides the outcome; a stop before the job runs takes effect
   * as soon as it can (before the job starts, or the moment it has). `delayMs` lets a job that has just
   * marked its slot broken print and exit on its own first.
   */
  stop(cause: StopCause, delayMs = 0): void {
    const phase = this.phase;
    switch (phase.kind) {
      case 'checking':
      case 'setting-up':
      case 'starting':
        // Not a change of phase: the stop waits in this one until it can take effect.
        if (phase.stop === undefined) this.phase = { ...phase, stop: cause };
        return;
      case 'running':
        this.enter({ kind: 'stopping', worker: phase.worker, slot: phase.slot, cause, sequence: undefined });
        this.startStopSequence(delayMs);
        return;
      case 'stopping':
        // The first cause stays; a later stop without delay only cuts the delay short.
        if (delayMs === 0) this.startStopSequence(0);
        return;
      case 'cleaning':
      case 'done':
        // The job is over; cleanup kills whatever it left.
        return;
    }
  }

  markBroken(message: string): void {
    this.stop({ kind: 'marked-broken', message }, MARK_BROKEN_STOP_DELAY_MS);
  }

  /** The one way the phase changes kind, with one log line per change. */
  private enter(next: LeasePhase): void {
    const timings = next.kind === 'done' ? { ms: this.clock.summary(), ahead: this.ahead } : {};
    this.log.info({ from: this.phase.kind, to: next.kind, ...phaseFields(next), ...timings }, 'lease phase');
    this.phase = next;
  }

  private startStopSequence(delayMs: number): void {
    if (delayMs > 0) {
      this.stopTimer ??= setTimeout(() => this.startStopSequence(0), delayMs);
      return;
    }
    clearTimeout(this.stopTimer);
    const phase = this.phase;
    // The job may have ended during the delay; then there is nothing left to stop.
    if (phase.kind !== 'stopping' || phase.sequence !== undefined) return;
    this.phase = { ...phase, sequence: this.stopSequence(phase.worker, phase.cause) };
  }

  private async preLeaseCheck(): Promise<boolean> {
    const { monitor, db } = this.deps;
    // The lab's claim (lab/lab-claims.ts) ran this check inside its claim, a moment ago.
    if (this.checked) return true;
    const check = await this.clock.time('check', () => freshCheck(monitor, this.slot));
    if (check.ok) return true;
    const why = check.why;
    this.log.warn({ why }, 'pre-lease check failed');
    const cause = stopOf(this.phase);
    if (cause?.kind === 'cancel') {
      // Cancelled while its check ran: nothing was set up, the slot goes straight back.
      await retryWrite(() =>
        completeLease(
          db,
          { jobId: this.job.id, workerId: null, slot: this.slot.name },
          'leased',
          decideOutcome({ code: null, signal: null }, cause),
        ),
      );
      this.enter({ kind: 'done', end: 'idle' });
    } else {
      await retryWrite(() => returnToQueue(db, this.job.id, this.slot.name, why));
      this.enter({ kind: 'done', end: 'queued' });
    }
    return false;
  }

  private async setupAndRun(): Promise<JobOutcome> {
    const { db } = this.deps;
    this.enter({ kind: 'setting-up', stop: stopOf(this.phase) });
    let worker: PreparedWorker;
    try {
      worker = await this.setUpWorker();
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'worker setup failed');
      // A full state directory is the host's problem, not the slot's: no hold (the host check stops leasing).
      return {
        ...infrastructureFailure(`worker setup failed: ${coerceError(error).message}`),
        holdSlot: !isDiskFull(error),
      };
    }
    const early = stopOf(this.phase);
    if (early) return decideOutcome({ code: null, signal: null }, early);
    this.enter({ kind: 'starting', worker, stop: undefined });

    let started;
    try {
      const launch = { ...worker.launch, maxOutputBytes: await this.outputBudget() };
      started = await this.clock.time('start', () => this.deps.platform.startJob(launch));
    } catch (error) {
      return { ...infrastructureFailure(`could not start the job: ${coerceError(error).message}`), holdSlot: true };
    }
    this.log.info({ pid: started.pid, uid: worker.account.uid }, 'job started');
    void started.exited.then(() => (this.jobExited = true));
    // A failure to record the start must not leave a job running unrecorded: it is stopped at once.
    let unrecorded: Error | undefined;
    try {
      this.clock.timeSync('record.running', () => markRunning(db, this.job.id, this.workerId, this.slot.name));
    } catch (error) {
      unrecorded = coerceError(error);
    }
    const whileStarting = stopOf(this.phase);
    this.enter({ kind: 'running', worker, slot: unrecorded === undefined ? 'running' : 'leased' });
    if (whileStarting) this.stop(whileStarting);
    if (unrecorded)
      this.stop({ kind: 'agent-error', message: `could not record the job's start: ${unrecorded.message}` });
    const timeout = setTimeout(() => this.stop({ kind: 'timeout', afterMs: this.job.timeoutMs }), this.job.timeoutMs);
    const outputWatch = setInterval(() => void this.checkOutputSize(), OUTPUT_POLL_MS);
    try {
      const exit = await this.clock.time('run', () =>
        Promise.race([started.exited, this.abandoned.then(() => ABANDONED_EXIT)]),
      );
      if (exit.spawnError !== undefined)
        return { ...infrastructureFailure(`could not start the job: ${exit.spawnError}`), holdSlot: true };
      // Not the slot's fault, nor one every job would meet: the next job gets a new spawner.
      if (exit.lost !== undefined) return infrastructureFailure(`the job was lost: ${exit.lost}`);
      // Not the job's exit code, which the job could fake: the sandbox's own word. Every job sent here would meet it.
      if (exit.sandboxError !== undefined)
        return {
          ...infrastructureFailure(`the sandbox refused to start the job: ${exit.sandboxError}`),
          holdSlot: true,
        };
      let cause = stopOf(this.phase);
      // A limit the kernel enforced (OOM kill, failed forks) is the reason a failed job failed, even past its timeout.
      const verdict = await this.deps.platform.limitVerdict(worker.account, worker.launch.limits);
      if (verdict !== undefined && exit.code !== 0 && (cause === undefined || cause.kind === 'timeout'))
        cause = { kind: 'limit', reason: verdict };
      // The cap cut the output before the poll saw it (the job then died of SIGPIPE, or even exited 0).
      if (cause === undefined && (await this.outputSize()) > this.deps.lab.config.jobs.max_output)
        cause = this.outputLimit();
      this.log.info(
        { code: exit.code, signal: exit.signal, cause: cause?.kind, abandoned: exit.abandoned === true },
        'job exited',
      );
      return decideOutcome(exit, cause);
    } finally {
      clearTimeout(timeout);
      clearInterval(outputWatch);
      clearTimeout(this.stopTimer);
    }
  }

  /**
   * The slot's worker made ahead, or one made now, given to this job. The next job's worker is made
   * while this one runs. A worker that fails before it is on record is removed here; once on record,
   * the lease's cleanup removes it.
   */
  private async setUpWorker(): Promise<PreparedWorker> {
    const { deps, slot } = this;
    const spare = await deps.spares?.take(slot.name, (made) => policyStillHolds(deps, slot, made, this.clock));
    const space = spare ?? (await makeWorkerSpace(deps, slot, this.clock, this.workerId));
    this.ahead = spare !== undefined;
    // The next job's worker, made while this one runs; not for a lease already asked to stop (a cancel, the agent stopping).
    if (stopOf(this.phase) === undefined) deps.spares?.prepare(slot);
    this.workerId = space.workerId;
    this.log = this.log.child({ worker: space.workerId });
    try {
      return await bindWorker(
        {
          lab: deps.lab,
          db: deps.db,
          slot,
          job: this.job,
          agentUrl: deps.agentUrl(),
          commandDir: deps.commandDir,
          listUsb: deps.listUsb,
          platform: deps.platform,
          log: this.log,
          clock: this.clock,
        },
        space,
      );
    } catch (error) {
      if (this.workerRow() === undefined)
        await undoWorkerSpace(deps.platform, space).catch((undoError: unknown) =>
          this.log.error({ err: coerceError(undoError) }, 'could not remove a worker that was never on record'),
        );
      throw error;
    }
  }

  private workerRow(): WorkerRow | undefined {
    return this.deps.db.select().from(workers).where(eq(workers.id, this.workerId)).get();
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
    return {
      kind: 'limit',
      reason: `output exceeded the limit of ${formatSize(this.deps.lab.config.jobs.max_output)} ([jobs] max_output)`,
    };
  }

  /** SIGTERM to everything the worker's UID runs, `stop_grace` to finish, then SIGKILL until none is left. */
  private async stopSequence({ account }: PreparedWorker, cause: StopCause): Promise<void> {
    const { lab, platform } = this.deps;
    const grace = lab.config.jobs.stop_grace;
    this.log.info({ cause: cause.kind, graceMs: grace }, 'stopping job');
    const deadline = Date.now() + grace;
    // A stop right after the start can come before the sandbox has switched to the worker: nothing of the
    // worker to signal yet. It is signalled as soon as it is (within the grace), not taken for gone.
    while ((await platform.signalWorker(account, 'SIGTERM')) === 0 && !this.jobExited && Date.now() < deadline)
      await sleep(STOP_RETRY_MS);
    const gone = await platform.waitWorkerGone(account, Math.max(0, deadline - Date.now()));
    if (gone && this.jobExited) return;
    const left = await platform.killWorker(account, KILL_DEADLINE_MS);
    if (left.length === 0) return;
    this.log.error({ pids: left }, 'job processes survived SIGKILL; cleaning up without them');
    this.giveUp();
  }

  private async cleanup(outcome: JobOutcome): Promise<void> {
    const { db } = this.deps;
    const over = this.phase;
    const from = slotUsageOf(over);
    const sequence = over.kind === 'stopping' ? over.sequence : undefined;
    this.enter({ kind: 'cleaning', outcome, from, sequence });
    const lease = { jobId: this.job.id, workerId: this.workerId, slot: this.slot.name };
    let end: 'idle' | 'cleanup-failed' | 'unrecorded' = 'unrecorded';
    try {
      // On a full disk the outcome cannot be written yet: cleanup frees the worker's disk first, then it is
      // written. Retrying here instead would leave it to the reconciler, which no longer knows how the job ended.
      let recorded = true;
      try {
        this.clock.timeSync('record.cleaning', () => markCleaning(db, lease, from, outcome));
      } catch (error) {
        if (!isDiskFull(error)) await retryWrite(() => markCleaning(db, lease, from, outcome));
        else {
          recorded = false;
          this.log.warn(
            { err: coerceError(error) },
            'state directory full: cleaning up before recording how the job ended',
          );
        }
      }
      await sequence;
      const row = this.workerRow();
      try {
        if (row) await cleanupWithRetries(db, this.deps.platform, row, outputsPolicy(this.deps.lab), 3, this.clock);
      } catch (error) {
        this.log.error({ err: coerceError(error) }, 'worker cleanup failed; slot held');
        if (!recorded) await retryWrite(() => markCleaning(db, lease, from, outcome));
        await retryWrite(() => recordCleanupFailure(db, lease, outcome, error));
        end = 'cleanup-failed';
        return;
      }
      if (!recorded) await retryWrite(() => markCleaning(db, lease, from, outcome));
      // Before the slot is idle: a next job must not find the outlet half-way (a failed switch holds the slot).
      await powerAfterJob(this.deps, this.slot, lease);
      await this.clock.time('record.idle', () =>
        retryWrite(() => completeLease(db, row ? lease : { ...lease, workerId: null }, 'cleaning', outcome)),
      );
      if (outcome.holdSlot === true) {
        // A slot where workers cannot even be set up would fail every job sent to it (DESIGN §2: a system hold).
        await retryWrite(() =>
          holdSlot(db, this.slot.name, {
            reason: outcome.reason,
            source: 'system',
            by: 'labslot',
            jobId: this.job.id,
            workerId: this.workerId,
          }),
        );
      }
      this.log.info({ state: outcome.state, reason: outcome.reason }, 'lease complete, slot idle');
      end = 'idle';
    } catch (error) {
      this.log.error({ err: coerceError(error) }, 'lease could not be recorded; the reconciler finishes it');
    } finally {
      this.enter({ kind: 'done', end });
    }
  }
}
