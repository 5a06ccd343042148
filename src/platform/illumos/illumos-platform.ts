// The illumos platform: each job runs as an instance of the SMF service
// svc:/application/labslot/worker (smf/labslot-worker.xml), whose
// method_credential gives it the worker's user and group with initgroups, a
// privilege set without proc_info and proc_session, and the worker's own
// project, whose resource controls are the job's limits. The design and
// what was not verified on a real host are in smf/README.md.
//
//   startJob      project (projadd -K), launch.sh, output FIFO, instance
//                 manifest (svccfg import), svcadm enable -t, then follow
//                 the instance log until the start method reports;
//   stopping      signals and SIGKILL by uid (pgrep -U), sparing the start
//                 method until the job is gone so it can report the end;
//   releaseWorker svccfg delete, projdel, the instance log;
//   sweepOrphans  instances, projects and ls-* users no known worker has, of
//                 this agent only (users with a home under its workers dir).
import { chmod, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  isNoMatch,
  parseSvcsState,
  parseStartPid,
  parseWorkerFmris,
  startPidArgv,
  svcadmEnableArgv,
  svccfgDeleteArgv,
  svccfgImportArgv,
  svcsStateArgv,
  svcsWorkerInstancesArgv,
  type SvcsState,
} from './commands.js';
import { hostView } from './host-view.js';
import { logSize, readLogFrom, watchInstance, type InstanceProbe } from './instance-watch.js';
import { smfLogPath, WORKER_SERVICE, workerFmri, workerInstanceManifest, workerProject } from './manifest.js';
import { OutputPipe } from './output-pipe.js';
import { WorkerProcesses } from './processes.js';
import { lwpsVerdict, parsePrctlUsage, parseProjectNames, prctlLwpsArgv, projaddArgv, projdelArgv } from './rctl.js';
import { IllumosToolError, runTool, runToolOk } from './tool.js';
import {
  accountOfUid,
  createWorkerUser,
  deleteWorkerUser,
  orphanWorkerUsers,
  ownWorkerIds,
  parsePasswd,
} from './users.js';
import { LAUNCH_FILE, launchScript, OUTPUT_FIFO, workerStartMethod } from './worker-method.js';
import type {
  IsolationNote,
  JobLaunch,
  JobLimits,
  LimitVerdict,
  NewWorkerUser,
  Platform,
  StartedJob,
  WorkerAccount,
  WorkerDisk,
} from '../platform.js';
import { NetworkPolicyUnavailableError } from '../network-policy.js';
import { lastLines } from '../run-process.js';
import { workerUsername } from '../worker-names.js';

export class IllumosPlatformError extends Error {
  override readonly name = 'IllumosPlatformError';
}

export interface IllumosPlatformOptions {
  /** `<state_dir>/workers`: worker directories are here, and worker users have their homes under it. */
  workersDir: string;
  /** Where the agent writes the start method (default `<state_dir>/libexec/labslot-worker-start`). */
  startMethodPath?: string;
  /** Its interpreter: illumos ksh93, whose `$?` tells a signal from an exit code. */
  shell?: string;
}

const START_TIMEOUT_MS = 60_000;
const POLL_MS = 250;
/** svcs (and the LWP sample) every 2 s. */
const STATE_EVERY = 8;
/** About a minute of failing polls in a row. */
const MAX_FAILURES = 240;
/** How long output may still trickle out of the FIFO after the start method reported the end. */
const DRAIN_MS = 2_000;
const SVCCFG_TIMEOUT_MS = 60_000;
const INSTANCE_FILE = 'instance.xml';

interface RunningWorker {
  stop: AbortController;
  pipe?: OutputPipe;
  /** The start method, spared by signals until the job is gone. */
  wrapperPid?: number | undefined;
  maxLwps: number;
}

export class IllumosPlatform implements Platform {
  readonly name = 'illumos';
  private readonly workersDir: string;
  private readonly startMethodPath: string;
  private readonly shell: string;
  private readonly running = new Map<string, RunningWorker>();
  private readonly processes = new WorkerProcesses();
  private startMethodWritten: Promise<void> | undefined;

  constructor(options: IllumosPlatformOptions) {
    this.workersDir = options.workersDir;
    this.startMethodPath =
      options.startMethodPath ?? join(dirname(options.workersDir), 'libexec', 'labslot-worker-start');
    this.shell = options.shell ?? '/usr/bin/ksh93';
  }

  async createUser(user: NewWorkerUser, signal?: AbortSignal): Promise<WorkerAccount> {
    const ids = await createWorkerUser({ name: user.name, groups: user.groups, home: user.home }, signal);
    return { workerId: user.workerId, username: user.name, ...ids };
  }

  deleteUser(name: string, signal?: AbortSignal): Promise<void> {
    return deleteWorkerUser(name, signal);
  }

  accountOfUid(uid: number, signal?: AbortSignal): Promise<string | undefined> {
    return accountOfUid(uid, signal);
  }

  async startJob(launch: JobLaunch): Promise<StartedJob> {
    const { worker } = launch;
    const fmri = workerFmri(worker.workerId);
    const project = workerProject(worker.workerId);
    const root = join(this.workersDir, worker.workerId);
    const view = hostView(launch);
    const state: RunningWorker = { stop: new AbortController(), maxLwps: 0 };
    this.running.set(worker.workerId, state);

    await this.writeStartMethod();
    await this.createProject(project, worker, launch.limits);
    // Readable by the worker's group only: the environment holds its token and the submitter's values.
    const launchFile = join(root, LAUNCH_FILE);
    await writeFile(launchFile, launchScript(view.env, view.command), { mode: 0o640 });
    await chown(launchFile, 0, worker.gid);
    await chmod(launchFile, 0o640);
    await rm(join(root, OUTPUT_FIFO), { force: true });
    state.pipe = await OutputPipe.open(join(root, OUTPUT_FIFO), launch.outputFile, {
      owner: { uid: worker.uid, gid: worker.gid },
      maxBytes: launch.maxOutputBytes,
    });

    const manifest = join(root, INSTANCE_FILE);
    const xml = workerInstanceManifest({
      workerId: worker.workerId,
      username: worker.username,
      group: worker.username,
      workingDirectory: view.cwd,
      project,
      start: [this.shell, this.startMethodPath, root],
    });
    await writeFile(manifest, xml, { mode: 0o600 });
    await runToolOk(svccfgImportArgv(manifest), { timeoutMs: SVCCFG_TIMEOUT_MS });
    const logFile = smfLogPath(fmri);
    const logOffset = await logSize(logFile);
    await runToolOk(svcadmEnableArgv(fmri));

    const probe: InstanceProbe = {
      readLog: (offset) => readLogFrom(logFile, offset),
      state: () => instanceState(fmri),
      ...(launch.limits.pids !== undefined ? { sample: () => this.sampleLwps(project, state) } : {}),
    };
    const watch = watchInstance(
      probe,
      {
        logOffset,
        pollMs: POLL_MS,
        stateEvery: STATE_EVERY,
        startTimeoutMs: START_TIMEOUT_MS,
        maxFailures: MAX_FAILURES,
      },
      state.stop.signal,
    );
    const exited = watch.exited.then(async (exit) => {
      // Followers must find all of the job's output in the file once it has ended, as on Linux.
      state.pipe?.releaseWriter();
      await state.pipe?.drained(DRAIN_MS);
      return exit;
    });
    const start = await watch.started;
    if (start.kind === 'timeout')
      throw new IllumosPlatformError(
        `${fmri} did not start the job within ${START_TIMEOUT_MS / 1000} s (see svcs -xv ${fmri})`,
      );
    if (start.kind === 'ended') return { pid: -1, exited };
    state.wrapperPid = await runTool(startPidArgv(fmri)).then(
      (r) => (r.code === 0 ? parseStartPid(r.output) : undefined),
      () => undefined,
    );
    return { pid: start.pid, exited };
  }

  signalWorker(worker: WorkerAccount, signal: NodeJS.Signals): Promise<number> {
    return this.processes.signal(worker.uid, signal, this.running.get(worker.workerId)?.wrapperPid);
  }

  waitWorkerGone(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.processes.waitGone(worker.uid, timeoutMs, signal);
  }

  killWorker(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    return this.processes.kill(worker.uid, this.running.get(worker.workerId)?.wrapperPid, timeoutMs, signal);
  }

  limitVerdict(worker: WorkerAccount, limits: JobLimits): Promise<LimitVerdict> {
    return Promise.resolve(lwpsVerdict(limits, this.running.get(worker.workerId)?.maxLwps ?? 0));
  }

  /** No cap here yet (a ZFS dataset with a quota per worker would be the way): a plain directory, and the caller says so. */
  async createWorkerDisk(disk: WorkerDisk): Promise<boolean> {
    await mkdir(disk.mountPoint, { mode: 0o755 });
    return false;
  }

  /** No cap, nothing to reserve. */
  reserveWorkerDisk(): Promise<void> {
    return Promise.resolve();
  }

  async releaseWorkerDisk(disk: WorkerDisk): Promise<void> {
    await rm(disk.image, { force: true });
  }

  /** The instance, the project and the instance log; each already gone is fine. */
  async releaseWorker(worker: WorkerAccount, signal?: AbortSignal): Promise<void> {
    const state = this.running.get(worker.workerId);
    state?.stop.abort();
    await state?.pipe?.close();
    const fmri = workerFmri(worker.workerId);
    const deleted = await runTool(svccfgDeleteArgv(fmri), { signal, timeoutMs: SVCCFG_TIMEOUT_MS });
    if (deleted.code !== 0 && (await instanceState(fmri, signal)) !== undefined) {
      throw new IllumosPlatformError(
        `svccfg delete ${fmri} failed (exit ${String(deleted.code)}): ${lastLines(deleted.output, 2)}`,
      );
    }
    await this.deleteProject(workerProject(worker.workerId), signal);
    await rm(smfLogPath(fmri), { force: true });
    this.running.delete(worker.workerId);
  }

  /** Not built on illumos (ipfilter could; nothing here does yet): `[jobs] network = "slot"` is refused at start. */
  checkNetworkPolicy(): Promise<void> {
    return Promise.reject(
      new NetworkPolicyUnavailableError(
        '[jobs] network = "slot" is not implemented on illumos: set [jobs] network = "host" (jobs then reach what the host reaches)',
      ),
    );
  }

  networkPolicyName(workerId: string): string {
    return `ls_${workerId}`;
  }

  /** Never called: the agent does not start with network = "slot" here. */
  addNetworkPolicy(): Promise<void> {
    return Promise.reject(new NetworkPolicyUnavailableError('no network policy on illumos'));
  }

  /** Nothing was ever added. */
  removeNetworkPolicy(): Promise<void> {
    return Promise.resolve();
  }

  /** illumos lets any user ping (net_icmpaccess is in the basic privilege set). */
  pingWarning(): string | undefined {
    return undefined;
  }

  /** Instances, projects and users are per worker; the agent itself keeps nothing on the host. */
  releaseAgent(): Promise<void> {
    return Promise.resolve();
  }

  /** illumos has no abstract Unix sockets (a Linux extension): nothing to scope, nothing to say. */
  isolation(): Promise<IsolationNote[]> {
    return Promise.resolve([]);
  }

  /** Tries everything, then reports every failure together: one stuck orphan must not shield the others. */
  async sweepOrphans(known: ReadonlySet<string>, signal?: AbortSignal): Promise<string[]> {
    const removed: string[] = [];
    const failures: Error[] = [];
    const attempt = async (what: string, remove: () => Promise<void>): Promise<void> => {
      try {
        await remove();
        removed.push(what);
      } catch (error) {
        failures.push(new IllumosPlatformError(`could not remove ${what}`, { cause: error }));
      }
    };

    // Read once, before any user is removed: what the sweeps below may take.
    const ours = ownWorkerIds(readLocal('/etc/passwd'), this.workersDir);
    const listed = await runTool(svcsWorkerInstancesArgv(), { signal, keepBytes: 1 << 20 });
    if (listed.code !== 0 && !isNoMatch(listed.output))
      throw new IllumosPlatformError(`svcs ${WORKER_SERVICE} failed: ${lastLines(listed.output, 2)}`);
    for (const fmri of listed.code === 0 ? parseWorkerFmris(listed.output) : []) {
      const workerId = fmri.slice(WORKER_SERVICE.length + 1);
      if (known.has(workerId) || !ours.has(workerId)) continue;
      await attempt(`SMF instance ${fmri}`, async () => {
        const username = workerUsername(workerId);
        const uid = (await uidOf(username, signal)) ?? -1;
        const account = { workerId, username, uid, gid: uid };
        const left = await this.killWorker(account, 10_000, signal);
        if (left.length > 0)
          throw new IllumosPlatformError(`processes of ${username} survived SIGKILL: ${left.join(', ')}`);
        await this.releaseWorker(account, signal);
      });
    }
    for (const project of parseProjectNames(readLocal('/etc/project'))) {
      const workerId = /^labslot\.(w[a-z0-9]+)$/.exec(project)?.[1];
      if (workerId === undefined || known.has(workerId) || !ours.has(workerId)) continue;
      await attempt(`project ${project}`, () => this.deleteProject(project, signal));
    }
    for (const user of orphanWorkerUsers(readLocal('/etc/passwd'), this.workersDir, known)) {
      await attempt(`worker user ${user.name} (uid ${user.uid})`, async () => {
        const left = await this.processes.kill(user.uid, undefined, 10_000, signal);
        if (left.length > 0) throw new IllumosPlatformError(`its processes survived SIGKILL: ${left.join(', ')}`);
        await deleteWorkerUser(user.name, signal);
      });
    }
    const logDir = dirname(smfLogPath(WORKER_SERVICE));
    for (const entry of await readdir(logDir).catch((): string[] => [])) {
      const workerId = /^application-labslot-worker:(w[a-z0-9]+)\.log$/.exec(entry)?.[1];
      if (workerId === undefined || known.has(workerId) || !ours.has(workerId)) continue;
      await attempt(`SMF log ${join(logDir, entry)}`, () => rm(join(logDir, entry), { force: true }));
    }
    if (failures.length > 0)
      throw new AggregateError(
        failures,
        `orphan sweep: ${failures.length} failed, ${removed.length} removed (${removed.join('; ')})`,
      );
    return removed;
  }

  /** The start method, the same for every job; rewritten at each agent start so an upgrade takes effect. */
  private writeStartMethod(): Promise<void> {
    this.startMethodWritten ??= (async () => {
      await mkdir(dirname(this.startMethodPath), { recursive: true, mode: 0o755 });
      await writeFile(this.startMethodPath, workerStartMethod(), { mode: 0o755 });
      await chmod(this.startMethodPath, 0o755);
    })();
    this.startMethodWritten.catch(() => (this.startMethodWritten = undefined));
    return this.startMethodWritten;
  }

  private async createProject(project: string, worker: WorkerAccount, limits: JobLimits): Promise<void> {
    // Left by a crash between projadd and the database: its limits may be another job's.
    if (parseProjectNames(readLocal('/etc/project')).includes(project)) await this.deleteProject(project);
    await runToolOk(projaddArgv(project, worker.username, worker.workerId, limits));
  }

  private async deleteProject(project: string, signal?: AbortSignal): Promise<void> {
    const result = await runTool(projdelArgv(project), { signal });
    if (result.code !== 0 && parseProjectNames(readLocal('/etc/project')).includes(project)) {
      throw new IllumosPlatformError(
        `projdel ${project} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`,
      );
    }
  }

  private async sampleLwps(project: string, state: RunningWorker): Promise<void> {
    const result = await runTool(prctlLwpsArgv(project), { timeoutMs: 10_000 });
    const usage = result.code === 0 ? parsePrctlUsage(result.output, 'project.max-lwps') : undefined;
    if (usage !== undefined) state.maxLwps = Math.max(state.maxLwps, usage);
  }
}

/** svc.startd's state of an instance, or undefined when it does not exist. */
async function instanceState(fmri: string, signal?: AbortSignal): Promise<SvcsState | undefined> {
  const result = await runTool(svcsStateArgv(fmri), { signal, timeoutMs: 15_000 });
  if (result.code !== 0) {
    if (isNoMatch(result.output)) return undefined;
    throw new IllumosToolError(`svcs ${fmri} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`);
  }
  const state = parseSvcsState(result.output);
  if (!state) throw new IllumosToolError(`svcs ${fmri} printed ${JSON.stringify(lastLines(result.output, 1))}`);
  return state;
}

async function uidOf(username: string, signal?: AbortSignal): Promise<number | undefined> {
  const result = await runTool(['getent', 'passwd', username], { signal });
  return result.code === 0 ? parsePasswd(result.output).find((e) => e.name === username)?.uid : undefined;
}

function readLocal(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
