// The agent: wires the config, database and HTTP server together and owns the
// lifecycle. States move created → starting → running → stopping → stopped
// (or failed); stop() is idempotent, and a stop during start waits for it.
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Server } from 'node:http';
import type { LabModel } from './config/lab-model.js';
import { readAgentTls, readLabCa } from './config/tls-files.js';
import { recordEvent } from './db/event-log.js';
import { DATABASE_FILE, openDatabase, type Db } from './db/open-database.js';
import { DeviceChecker, type UsbSnapshot } from './devices/device-checker.js';
import type { UsbDeviceInfo } from './devices/usb-bus.js';
import { coerceError, IllegalStateError } from './errors.js';
import { checkModeFor } from './health/check-mode.js';
import { HealthMonitor } from './health/health-monitor.js';
import { HealthStore } from './health/health-store.js';
import { SlotRecovery } from './health/slot-recovery.js';
import type { HotplugSource } from './health/usb-hotplug.js';
import { usbHotplug } from './health/usb-hotplug.js';
import { agentUrl } from './http/agent-url.js';
import { createApp } from './http/app.js';
import { closeServer, listen } from './http/listen.js';
import { writeCommandWrapper } from './jobs/command-wrapper.js';
import { writeJobCa } from './jobs/job-tls.js';
import { JobOutputs } from './jobs/job-output.js';
import { commandDir, jobDir, workersDir } from './jobs/job-paths.js';
import { jobState } from './jobs/job-queue.js';
import { isFinal } from './jobs/job-view.js';
import { Reconciler } from './jobs/reconcile.js';
import { outputsPolicy } from './jobs/worker-cleanup.js';
import { powerAfterCleanup, recoverAfterRestart } from './jobs/recovery.js';
import { dropUncommittedClaims } from './jobs/lease-records.js';
import { Scheduler } from './jobs/scheduler.js';
import { NO_CLOCK } from './jobs/lease-clock.js';
import { WorkerSpares } from './jobs/worker-spares.js';
import { makeWorkerSpace, reserveSpaceDisk, undoWorkerSpace } from './jobs/worker-space.js';
import { LabMember } from './lab/lab-member.js';
import type { Logger } from './log.js';
import { agentScope } from './platform/agent-scope.js';
import { currentPlatform } from './platform/current-platform.js';
import { closeInheritedDescriptors, raiseFileLimit } from './platform/process-hygiene.js';
import { NetworkPolicyUnavailableError } from './platform/network-policy.js';
import type { Platform } from './platform/platform.js';
import type { HostState } from './slots/availability.js';
import { ensureSlotRows } from './slots/slot-states.js';
import { lockStateDir } from './state-dir-lock.js';
import { VERSION } from './version.js';
import { processStarter } from './platform/process-starter.js';

/** How often failed cleanups and leases whose bookkeeping failed are finished. */
const RECONCILE_MS = 10_000;

export type AgentState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface AgentOptions {
  lab: LabModel;
  log: Logger;
  /** How long in-flight HTTP requests may take once a stop begins. */
  httpGraceMs?: number;
  hotplug?: HotplugSource;
  /** How jobs are run; the one for this operating system by default. */
  platform?: Platform;
  /** What is on the USB bus; libusb's enumeration by default (a test on a machine without a bus brings its own). */
  listUsb?: () => Promise<UsbDeviceInfo[]>;
  /** How often failed cleanups and lost leases are finished; tests shorten it. */
  reconcileIntervalMs?: number;
}

export class Agent {
  private state: AgentState = 'created';
  private db: Db | undefined;
  private server: Server | undefined;
  private monitor: HealthMonitor | undefined;
  private scheduler: Scheduler | undefined;
  private spares: WorkerSpares | undefined;
  private reconciler: Reconciler | undefined;
  private member: LabMember | undefined;
  private recovery: SlotRecovery | undefined;
  private unlock: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private platform: Platform | undefined;
  /** Port actually bound (differs from the config when it asks for port 0 in tests). */
  port: number | undefined;

  constructor(private readonly options: AgentOptions) {}

  get currentState(): AgentState {
    return this.state;
  }

  /** Memoized like stop(): a stop that arrives during start waits for start to settle first. */
  start(): Promise<void> {
    if (this.state !== 'created')
      return Promise.reject(new IllegalStateError(`cannot start an agent that is ${this.state}`));
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { lab, log } = this.options;
    this.transition('starting');
    // Before recovery: what recovery records (jobs a crash ended) belongs to this start's metrics.
    const startedAt = Date.now();
    try {
      // First, before this process opens anything: nothing it inherited may reach a job.
      const closed = closeInheritedDescriptors();
      if (closed.length > 0) log.warn({ fds: closed }, 'closed inherited file descriptors');
      // Before anything is made: a certificate that cannot be used refuses the start (TlsFileError, exit 2).
      const tls = readAgentTls(lab.config, lab.file);
      const labCa = readLabCa(lab.config, lab.file);
      const files = await raiseFileLimit();
      if (files !== undefined && Number.isFinite(files.hard) && files.soft < files.hard)
        log.warn({ ...files }, 'could not raise the open-file limit to its hard limit');
      // The lock comes before the database: a second agent must not even migrate it.
      mkdirSync(lab.stateDir, { recursive: true, mode: 0o711 });
      this.unlock = lockStateDir(lab.stateDir);
      const db = openDatabase({ stateDir: lab.stateDir });
      this.db = db;
      prepareStateDir(lab.stateDir, log);
      ensureSlotRows(db, [...lab.slots.keys()]);
      // Before any slot is offered: finish what a crashed agent left (DESIGN §3.7).
      const platform = this.options.platform ?? currentPlatform(lab.stateDir);
      this.platform = platform;
      // Jobs never run unfiltered because the host cannot filter: the agent starts (its status stays
      // visible, and says why), but the host is unhealthy and leases nothing until it is fixed.
      const jobsRefused = lab.config.jobs.network === 'slot' ? await networkPolicyRefusal(platform) : undefined;
      if (jobsRefused !== undefined) log.error({ problem: jobsRefused }, 'no job will run on this host');
      const ping = platform.pingWarning();
      if (ping !== undefined) log.warn({ problem: ping }, 'ping will not work in jobs');
      // Once, before any job: what this kernel lets the sandbox keep apart. It throws when it cannot tell.
      for (const note of await platform.isolation()) log[note.level](note.fields, note.message);
      const checker = new DeviceChecker(lab, this.options.listUsb);
      // The checker's enumeration: it reads descriptors of configured probes only, where sysfs has no serials.
      const listUsb = (): ReturnType<UsbSnapshot['get']> => checker.newUsbSnapshot().get();
      // A lab claim the crash cut short never became this host's job: dropped before recovery would fail it.
      if (lab.config.lab !== undefined)
        for (const dropped of dropUncommittedClaims(db)) {
          rmSync(jobDir(lab.stateDir, dropped.jobId), { recursive: true, force: true });
          log.warn(dropped, 'dropped a lab claim that had not committed when the agent stopped');
        }
      await recoverAfterRestart({ db, lab, platform, log, listUsb });
      const monitor = new HealthMonitor({
        lab,
        store: new HealthStore(db, lab),
        checker,
        log,
        modeOf: (device) => checkModeFor(lab, db, device),
        onTransition: (transition) => {
          this.scheduler?.poke();
          this.recovery?.onTransition(transition);
        },
        hotplug: this.options.hotplug ?? usbHotplug,
        jobsRefused,
      });
      this.monitor = monitor;
      // Recovery before quarantine (DESIGN §9): idle slots with failing devices get their steps first.
      this.recovery = new SlotRecovery({ lab, db, log, monitor, usb: listUsb, poke: () => this.scheduler?.poke() });
      const hostState = (): HostState =>
        monitor.host === null
          ? { ok: null, reason: 'not checked yet' }
          : { ok: monitor.host.ok, reason: monitor.host.reason };
      // In a lab (DESIGN §7) jobs come from the shared queue, claimed by this member; alone, from this host's database.
      const member =
        lab.config.lab === undefined
          ? undefined
          : new LabMember({
              lab,
              settings: lab.config.lab,
              db,
              log,
              version: VERSION,
              monitor,
              host: hostState,
              url: () =>
                lab.config.agent.url ?? agentUrl(lab.listen.host, this.port ?? lab.listen.port, tls !== undefined),
              peerTls: labCa === undefined ? {} : { ca: labCa },
              scheduler: () => this.scheduler,
            });
      this.member = member;
      const ownUrl = (): string => agentUrl(lab.listen.host, this.port ?? lab.listen.port, tls !== undefined);
      const spaceDeps = { lab, platform, log, agentUrl: ownUrl };
      this.spares = lab.config.jobs.prepare_ahead
        ? new WorkerSpares(
            (slot) => makeWorkerSpace(spaceDeps, slot, NO_CLOCK),
            (space) => undoWorkerSpace(platform, space),
            (space) => {
              const slot = lab.slots.get(space.slot);
              return slot === undefined ? Promise.resolve() : reserveSpaceDisk(platform, lab, slot, space);
            },
            log,
          )
        : undefined;
      const scheduler = new Scheduler(
        {
          lab,
          db,
          log,
          monitor,
          agentUrl: ownUrl,
          commandDir: commandDir(lab.stateDir),
          listUsb,
          platform,
          spares: this.spares,
        },
        hostState,
        member,
      );
      this.scheduler = scheduler;
      const outputs = new JobOutputs(lab.stateDir, { isDone: (id) => isFinal(jobState(db, id) ?? 'failed') });
      scheduler.onJobChange = (id) => {
        outputs.notify(id);
        member?.noteJob(id);
      };
      await writeCommandWrapper(commandDir(lab.stateDir));
      await writeJobCa(commandDir(lab.stateDir), tls, labCa);
      const app = createApp({ lab, db, log, version: VERSION, startedAt, monitor, scheduler, outputs, member });
      const { server, port } = await listen(app, lab.listen, log, tls);
      this.server = server;
      this.port = port;
      if (this.stopping) return; // A signal arrived while binding: stop() releases what start made.
      recordEvent(db, {
        type: 'agent.started',
        message: `agent ${lab.agentName} started with ${lab.slots.size} slots from ${lab.file}`,
        data: { version: VERSION, config: lab.file, listen: `${lab.listen.host}:${port}` },
      });
      monitor.start();
      this.recovery.start();
      // Its URL (and so its port) known: the host joins the lab before it claims anything.
      await member?.start();
      scheduler.start();
      this.reconciler = new Reconciler({
        db,
        platform,
        outputs: outputsPolicy(lab),
        log,
        // A lab's claims lease a job here before the scheduler runs it (their check and commit in flight).
        active: () => {
          const running = scheduler.active();
          const claiming = member?.claims.claiming() ?? new Set<string>();
          return { jobs: new Set([...running.jobs, ...claiming]), workers: running.workers };
        },
        intervalMs: this.options.reconcileIntervalMs ?? RECONCILE_MS,
        afterCleanup: powerAfterCleanup({ lab, db, log }),
      });
      this.reconciler.start();
      this.transition('running');
      log.info(
        {
          host: lab.listen.host,
          port,
          url: agentUrl(lab.listen.host, port, tls !== undefined),
          stateDir: lab.stateDir,
          scope: agentScope(lab.stateDir),
          slots: lab.slots.size,
          // How its checks and tools start: labslot-spawner, or Node's spawn (slower) where it was not built.
          programs: processStarter().kind,
        },
        'agent listening',
      );
    } catch (error) {
      this.transition('failed');
      await this.release();
      throw error;
    }
  }

  /** Stops serving and closes the database. Memoized: every caller awaits the same stop. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.state === 'created' || this.state === 'failed') {
      this.transition('stopped');
      return;
    }
    this.transition('stopping');
    try {
      if (this.db)
        recordEvent(this.db, { type: 'agent.stopping', message: `agent ${this.options.lab.agentName} stopping` });
    } catch (error) {
      this.options.log.error({ err: coerceError(error) }, 'could not record the stop event');
    }
    await this.release();
    this.transition('stopped');
  }

  /** Releases everything start acquired, in reverse order; each step runs even if an earlier one failed. */
  private async release(): Promise<void> {
    const failures: unknown[] = [];
    // No new reconcile round from here; the one in flight (it may be cleaning a worker up) runs on beside the jobs' stop.
    const reconciled = this.reconciler?.stop();
    this.reconciler = undefined;
    // Jobs first, while the API still answers their mark-broken calls during the grace period.
    await this.scheduler?.stop().catch((error: unknown) => failures.push(error));
    this.scheduler = undefined;
    // Once no lease can take one any more: the workers made ahead go, before the platform lets go of its scope.
    await this.spares?.stop().catch((error: unknown) => failures.push(error));
    this.spares = undefined;
    // After the jobs: their last states reach the lab before the link closes.
    await this.member?.stop().catch((error: unknown) => failures.push(error));
    this.member = undefined;
    // The round in flight uses the platform and the database: both stay until it has ended.
    await reconciled?.catch((error: unknown) => failures.push(error));
    await this.platform?.releaseAgent().catch((error: unknown) => failures.push(error));
    this.platform = undefined;
    const server = this.server;
    this.server = undefined;
    if (server)
      await closeServer(server, this.options.httpGraceMs ?? 5_000).catch((error: unknown) => failures.push(error));
    // Recovery checks devices through the monitor: it stops first (its slots go back to idle).
    await this.recovery?.stop().catch((error: unknown) => failures.push(error));
    this.recovery = undefined;
    await this.monitor?.stop().catch((error: unknown) => failures.push(error));
    this.monitor = undefined;
    try {
      this.db?.$client.close();
    } catch (error) {
      failures.push(error);
    }
    this.db = undefined;
    this.unlock?.();
    this.unlock = undefined;
    if (failures.length > 0) throw new AggregateError(failures, 'the agent did not release everything cleanly');
  }

  private transition(next: AgentState): void {
    this.options.log.debug({ from: this.state, to: next }, 'agent state');
    this.state = next;
  }
}

/**
 * Workers must reach their own directories under the state directory, so it is
 * traversable (0711) but not listable; the database and job outputs stay private.
 */
function prepareStateDir(stateDir: string, log: Logger): void {
  chmodSync(stateDir, 0o711);
  const closed = untraversableParent(resolve(stateDir));
  if (closed !== undefined)
    log.warn(
      { dir: closed, stateDir },
      'job users cannot reach the state directory: a parent directory lacks o+x, so jobs will fail to start',
    );
  for (const suffix of ['', '-wal', '-shm']) {
    const file = join(stateDir, `${DATABASE_FILE}${suffix}`);
    if (existsSync(file)) chmodSync(file, 0o600);
  }
  mkdirSync(join(stateDir, 'jobs'), { recursive: true, mode: 0o700 });
  mkdirSync(workersDir(stateDir), { recursive: true, mode: 0o711 });
  chmodSync(workersDir(stateDir), 0o711);
}

export function untraversableParent(dir: string): string | undefined {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if ((statSync(parent).mode & 0o001) === 0) return parent;
    if (parent === dirname(parent)) return undefined;
  }
}

/** Why this host cannot keep jobs to their slots' network (what to do about it), or undefined when it can. */
async function networkPolicyRefusal(platform: Platform): Promise<string | undefined> {
  try {
    await platform.checkNetworkPolicy();
    return undefined;
  } catch (error) {
    if (error instanceof NetworkPolicyUnavailableError) return error.message;
    throw error;
  }
}
