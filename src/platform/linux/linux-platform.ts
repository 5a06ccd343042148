// The Linux platform: shadow-utils users, the bwrap sandbox of
// linux/sandbox.ts, cgroups v1 or v2 for limits and for killing a job whole,
// /proc for finding what a worker's uid still runs, and Landlock (landlock.ts)
// keeping each job's abstract Unix sockets to itself.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { closeSync, openSync } from 'node:fs';
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkerCgroups } from './cgroups.js';
import { landlockAbi, landlockNote } from './landlock.js';
import { ENVIRONMENT_FILE, environmentScript, SANDBOX_REPORT_FD, sandboxCommand } from './sandbox.js';
import { OutputRelay } from '../output-relay.js';
import type {
  IsolationNote,
  JobExit,
  JobLaunch,
  JobLimits,
  LimitVerdict,
  NewWorkerUser,
  Platform,
  StartedJob,
  WorkerAccount,
  WorkerDisk,
} from '../platform.js';
import type { NetworkPolicy } from '../network-policy.js';
import { addPolicy, checkNft, listChains, NFT_TABLE, removePolicy, workerChain, workerOfChain } from './nft-policy.js';
import { pingWarning } from './ping-group.js';
import { createWorkerDisk, releaseWorkerDisk, reserveWorkerDisk } from './worker-disk.js';
import { accountOfUid, createUser, deleteUser } from '../unix-users.js';
import { killUser, processesOf, signalAll, waitUserGone } from '../user-processes.js';

/** The privileged part of the chain runs with this and nothing from the job. */
const PRIVILEGED_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/**
 * Once the job's first process has exited (its PID namespace, and with it every process of the job, is
 * gone), how long the output relay may take to write what is left in its pipe before it is killed.
 */
const RELAY_DRAIN_MS = 5_000;
/** How long, once the job has ended, the sandbox's report may take to reach end-of-file (it does at once). */
const REPORT_WAIT_MS = 5_000;
/** A report is one line; anything past this is not the launcher's. */
const REPORT_MAX = 4096;

/** What the sandbox wrote on its report pipe (nothing: the job started), read until every holder has closed it. */
function readReport(pipe: Readable | null | undefined): Promise<string> {
  if (!pipe) return Promise.resolve('');
  return new Promise((resolve) => {
    let text = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      if (text.length < REPORT_MAX) text += chunk;
    });
    pipe.once('error', () => pipe.destroy());
    pipe.once('close', () => resolve(text.slice(0, REPORT_MAX).trim()));
  });
}

/** `promise`, or `fallback` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export class LinuxPlatform implements Platform {
  readonly name = 'linux';

  /** `scope` (agent-scope.ts) keeps this agent's cgroups apart from another agent's on the host. */
  constructor(
    private readonly scope: string,
    private readonly cgroups = new WorkerCgroups(scope),
  ) {}

  /**
   * The Landlock ABI probed once, at start (isolation()), that every job's launcher is held to: kept on
   * the platform, which learns it and starts the jobs, and handed to sandboxCommand, rather than in module state.
   */
  private landlockAbi: number | undefined;

  checkNetworkPolicy(signal?: AbortSignal): Promise<void> {
    return checkNft(signal);
  }

  networkPolicyName(workerId: string): string {
    return workerChain(this.scope, workerId);
  }

  addNetworkPolicy(name: string, worker: WorkerAccount, policy: NetworkPolicy, signal?: AbortSignal): Promise<void> {
    return addPolicy(name, worker, policy, signal);
  }

  removeNetworkPolicy(name: string, signal?: AbortSignal): Promise<void> {
    return removePolicy(name, signal);
  }

  pingWarning(): string | undefined {
    return pingWarning();
  }

  async createUser(user: NewWorkerUser, signal?: AbortSignal): Promise<WorkerAccount> {
    const created = await createUser(user, signal);
    return { workerId: user.workerId, username: created.name, uid: created.uid, gid: created.gid };
  }

  deleteUser(name: string, signal?: AbortSignal): Promise<void> {
    return deleteUser(name, signal);
  }

  accountOfUid(uid: number, signal?: AbortSignal): Promise<string | undefined> {
    return accountOfUid(uid, signal);
  }

  /** Each job scopes itself (landlock.ts); this only says what the kernel lets that scope be. */
  async isolation(signal?: AbortSignal): Promise<IsolationNote[]> {
    this.landlockAbi = await landlockAbi(signal);
    return [landlockNote(this.landlockAbi)];
  }

  async startJob(launch: JobLaunch): Promise<StartedJob> {
    await this.cgroups.create(launch.worker.workerId, launch.limits);
    // The environment goes in a file the worker's group reads, not in argv, where `ps` shows it to anyone.
    const envFile = join(launch.privateDir, ENVIRONMENT_FILE);
    await writeFile(envFile, environmentScript(launch.env), { mode: 0o640 });
    await chown(envFile, 0, launch.worker.gid);
    // The agent has probed at start; a caller that never asked (a benchmark) has it probed now, once.
    this.landlockAbi ??= await landlockAbi();
    const procsFiles = this.cgroups.procsFiles(launch.worker.workerId);
    const [program, ...args] = sandboxCommand(launch, procsFiles, envFile, this.landlockAbi);
    if (program === undefined) throw new TypeError('no command');
    const out = openSync(launch.outputFile, 'a', 0o600);
    let relay: OutputRelay | undefined;
    try {
      // With a cap, the job writes into the relay's pipe and never holds the file itself.
      if (launch.maxOutputBytes !== undefined)
        relay = await OutputRelay.start(out, launch.maxOutputBytes, PRIVILEGED_ENV);
      const sink = relay?.input ?? out;
      const child = spawn(program, args, {
        env: PRIVILEGED_ENV,
        // The fourth, SANDBOX_REPORT_FD (3): the pipe the launcher tells why the job did not start.
        stdio: ['ignore', sink, sink, 'pipe'],
        // Its own process group: the agent's terminal signals do not reach it.
        detached: true,
      });
      const ended = new Promise<JobExit>((resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, spawnError: error.message }));
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      const report = readReport(child.stdio[SANDBOX_REPORT_FD] as Readable | null | undefined);
      const started = relay;
      const exited = ended.then(async (exit) => {
        const [sandboxError] = await Promise.all([
          exit.spawnError === undefined ? within(report, REPORT_WAIT_MS, '') : '',
          // Followers must find all of the job's output in the file once it has ended.
          started?.finish(RELAY_DRAIN_MS),
        ]);
        return sandboxError === '' ? exit : { ...exit, sandboxError };
      });
      return { pid: child.pid ?? -1, exited };
    } catch (error) {
      await relay?.finish(0);
      throw error;
    } finally {
      closeSync(out);
      relay?.releaseInput();
    }
  }

  /**
   * The job's own processes, by uid: the cgroup also holds bwrap, which runs as root and would take
   * the whole sandbox down at once on a SIGTERM, leaving the job no grace.
   */
  signalWorker(worker: WorkerAccount, signal: NodeJS.Signals): Promise<number> {
    const pids = worker.uid > 0 ? processesOf(worker.uid) : [];
    signalAll(pids, signal);
    return Promise.resolve(pids.length);
  }

  async waitWorkerGone(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const gone = await waitUserGone(worker.uid, timeoutMs, signal);
    return gone && this.cgroups.pids(worker.workerId).length === 0;
  }

  /** The whole cgroup first (nothing in it can fork away), then anything of the uid outside it. */
  async killWorker(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    const inCgroup = await this.cgroups.kill(worker.workerId, timeoutMs);
    const ofUid = worker.uid > 0 ? await killUser(worker.uid, timeoutMs, signal) : [];
    return [...new Set([...inCgroup, ...ofUid])];
  }

  limitVerdict(worker: WorkerAccount, limits: JobLimits): Promise<LimitVerdict> {
    return Promise.resolve(this.cgroups.verdict(worker.workerId, limits));
  }

  async createWorkerDisk(disk: WorkerDisk, bytes: number): Promise<boolean> {
    await createWorkerDisk(disk, bytes);
    return true;
  }

  reserveWorkerDisk(disk: WorkerDisk, bytes: number): Promise<void> {
    return reserveWorkerDisk(disk, bytes);
  }

  releaseWorkerDisk(disk: WorkerDisk): Promise<void> {
    return releaseWorkerDisk(disk);
  }

  releaseWorker(worker: WorkerAccount): Promise<void> {
    return this.cgroups.remove(worker.workerId);
  }

  releaseAgent(): Promise<void> {
    return this.cgroups.removeScope();
  }

  async sweepOrphans(known: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const workerId of this.cgroups.existing().filter((id) => !known.has(id))) {
      await this.cgroups.kill(workerId, 10_000);
      await this.cgroups.remove(workerId);
      removed.push(`cgroup ${this.cgroups.dirs(workerId)[0] ?? workerId}`);
    }
    // Only chains carrying this agent's scope: another agent's workers are in the same table.
    for (const chain of await listChains()) {
      const workerId = workerOfChain(this.scope, chain);
      if (workerId === undefined || known.has(workerId)) continue;
      await removePolicy(chain);
      removed.push(`nftables chain inet ${NFT_TABLE} ${chain}`);
    }
    return removed;
  }
}
