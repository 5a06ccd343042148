// The Linux platform: shadow-utils users, the bwrap sandbox of
// linux/sandbox.ts, cgroups v1 or v2 for limits and for killing a job whole,
// /proc for finding what a worker's uid still runs, and Landlock (landlock.ts)
// keeping each job's abstract Unix sockets to itself.
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkerCgroups } from './cgroups.js';
import { landlockAbi, landlockNote } from './landlock.js';
import { startJobProcess } from './job-process.js';
import { ENVIRONMENT_FILE, environmentScript, sandboxCommand } from './sandbox.js';
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
import type { NetworkPolicy } from '../network-policy.js';
import { addPolicy, checkNft, listChains, NFT_TABLE, removePolicy, workerChain, workerOfChain } from './nft-policy.js';
import { pingWarning } from './ping-group.js';
import { createWorkerDisk, releaseWorkerDisk, reserveWorkerDisk } from './worker-disk.js';
import { accountOfUid, createUser, deleteUser } from '../unix-users.js';
import { killUser, processesOf, signalAll, waitUserGone } from '../user-processes.js';

/** The privileged part of the chain runs with this and nothing from the job. */
const PRIVILEGED_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
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
    const argv = sandboxCommand(launch, procsFiles, envFile, this.landlockAbi);
    return startJobProcess(argv, {
      env: PRIVILEGED_ENV,
      outputFile: launch.outputFile,
      maxOutputBytes: launch.maxOutputBytes,
    });
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
