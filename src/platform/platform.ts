// What running jobs needs from the operating system, as one interface with an
// implementation per platform (linux/linux-platform.ts, illumos/illumos-platform.ts). The job runner
// (src/jobs/) only talks to this: users and groups, starting a job as its
// worker inside a sandbox with limits, stopping everything the worker runs,
// and finding what a crash left behind.
import type { NetworkPolicy } from './network-policy.js';

/** A worker as the platform sees it. */
export interface WorkerAccount {
  workerId: string;
  username: string;
  uid: number;
  gid: number;
}

export interface NewWorkerUser {
  workerId: string;
  name: string;
  /** Supplementary groups (the slot's add_to_groups), applied with initgroups when the job starts. */
  groups: readonly string[];
  home: string;
}

/** Resource limits of one job; undefined means no limit. */
export interface JobLimits {
  memoryBytes?: number | undefined;
  pids?: number | undefined;
  /** CPU in cores; 1.5 is one and a half. */
  cpus?: number | undefined;
  /** Size of the job's own /dev/shm. */
  shmBytes?: number | undefined;
}

/** A worker's writable space: a directory that holds home, work, tmp, var-tmp and output, and the file behind it if it is a filesystem of its own. */
export interface WorkerDisk {
  mountPoint: string;
  image: string;
}

/** A path on the host and where the job sees it. */
export interface Mapping {
  host: string;
  inJob: string;
}

export interface JobLaunch {
  worker: WorkerAccount;
  /** The job's program and arguments; the program is looked up on the job's PATH. */
  command: readonly string[];
  /** The job's whole environment; nothing else is inherited. Secrets among it: never in any process's argv. */
  env: Readonly<Record<string, string>>;
  /**
   * A directory of the worker's, owned by root, that only the worker's group may read, at the same path
   * in the job (read-only there): where the platform keeps files for the job's start, such as its environment.
   */
  privateDir: string;
  /** Working directory as the job sees it. */
  cwd: string;
  /** Host file that receives stdout and stderr, appended. */
  outputFile: string;
  /**
   * At most this many bytes of the job's output reach `outputFile`; past them the job's writes fail
   * (EPIPE, SIGPIPE) and the rest is dropped. Enforced outside the job, whatever it does. Undefined: no cap.
   */
  maxOutputBytes?: number | undefined;
  /** Writable directories of the worker (home, work, tmp, var/tmp), owned by it. */
  writable: readonly Mapping[];
  /** Read-only extras (the worker root with its script and humility file, an input archive). */
  readOnly: readonly Mapping[];
  /** Device nodes of the slot, granted to the worker's group. */
  devices: readonly Mapping[];
  limits: JobLimits;
}

export interface JobExit {
  code: number | null;
  signal: string | null;
  /** The platform could not start the job at all: the lab's problem, not the job's. */
  spawnError?: string;
  /** The job started, but what ran it went away with it (Linux: the agent's spawner died): the lab's problem, once. */
  lost?: string;
  /**
   * The sandbox refused to run the job, in its own words (Linux: the Landlock scope the agent found at start
   * could not be established): the job never ran; the lab's problem. Told through a channel the job cannot write.
   */
  sandboxError?: string;
  /** The job's processes survived every kill; the runner stopped waiting for them. */
  abandoned?: boolean;
}

export interface StartedJob {
  /** The first process of the job (for logs only: processes are found through the worker). */
  pid: number;
  exited: Promise<JobExit>;
}

/** Which limit, if any, ended a job: "memory limit of 256MiB reached (out of memory)". */
export type LimitVerdict = string | undefined;

/** Something about how well this host isolates jobs from each other, for the agent to log at start. */
export interface IsolationNote {
  level: 'info' | 'warn';
  message: string;
  fields: Record<string, unknown>;
}

export interface Platform {
  readonly name: string;

  /**
   * Creates the user and its own group with a random id from the worker range. Its name and home (under
   * this agent's workers directory) are how a crash's leftover is found before it is on record.
   */
  createUser(user: NewWorkerUser, signal?: AbortSignal): Promise<WorkerAccount>;
  /** Removes the user and its group; already gone is fine. */
  deleteUser(name: string, signal?: AbortSignal): Promise<void>;
  /** The account that owns a uid, through the name service; undefined when none does. */
  accountOfUid(uid: number, signal?: AbortSignal): Promise<string | undefined>;

  /**
   * What this host's kernel gives jobs beyond the contract of startJob (Linux: the Landlock scope of
   * abstract Unix sockets). Asked once at start; rejects when the platform cannot tell, rather than
   * let jobs start on a sandbox it cannot vouch for.
   */
  isolation(signal?: AbortSignal): Promise<IsolationNote[]>;
  /** Starts the job as its worker: supplementary groups applied, no privileges, sandboxed, limited. */
  startJob(launch: JobLaunch): Promise<StartedJob>;
  /** Sends a signal to every process of the worker. Returns how many there were. */
  signalWorker(worker: WorkerAccount, signal: NodeJS.Signals): Promise<number>;
  /** True once the worker has no live process, or false after `timeoutMs`. */
  waitWorkerGone(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Kills every process of the worker until none is left; returns the survivors after `timeoutMs`. */
  killWorker(worker: WorkerAccount, timeoutMs: number, signal?: AbortSignal): Promise<number[]>;
  /** After the job ended: whether a limit ended it, said for people. */
  limitVerdict(worker: WorkerAccount, limits: JobLimits): Promise<LimitVerdict>;
  /**
   * Makes `disk.mountPoint` the worker's writable space, of at most `bytes`. Returns false if this
   * platform cannot cap it (the directory is then a plain one). Its paths must be on record first.
   */
  createWorkerDisk(disk: WorkerDisk, bytes: number): Promise<boolean>;
  /**
   * Reserves the disk's whole space on the host, once a job gets it (a worker made ahead of its job holds
   * none); throws, with ENOSPC among its causes, when the host has no room. Nothing to do without a cap.
   */
  reserveWorkerDisk(disk: WorkerDisk, bytes: number): Promise<void>;
  /** Unmounts and deletes whatever exists of the worker's disk (idempotent; nothing there is fine). */
  releaseWorkerDisk(disk: WorkerDisk): Promise<void>;
  /** Removes what startJob made for the worker besides its user (cgroups, service instances). Idempotent. */
  releaseWorker(worker: WorkerAccount, signal?: AbortSignal): Promise<void>;

  /** Throws NetworkPolicyUnavailableError (saying what to do) when this host cannot enforce a worker's network policy. */
  checkNetworkPolicy(signal?: AbortSignal): Promise<void>;
  /** The name a worker's rules carry: on record in the database before addNetworkPolicy makes them. */
  networkPolicyName(workerId: string): string;
  /** Filters what the worker's uid sends to `policy`, until removeNetworkPolicy. */
  addNetworkPolicy(name: string, worker: WorkerAccount, policy: NetworkPolicy, signal?: AbortSignal): Promise<void>;
  /** Removes the rules of that name; already gone is fine. */
  removeNetworkPolicy(name: string, signal?: AbortSignal): Promise<void>;
  /** Why a worker's unprivileged `ping` cannot work on this host, with what to do; undefined when it can. */
  pingWarning(): string | undefined;

  /**
   * What a crash left that the database does not know: resources of workers
   * not in `known` (worker ids). Removes them and says what it removed.
   */
  sweepOrphans(known: ReadonlySet<string>, signal?: AbortSignal): Promise<string[]>;

  /** At the agent's stop, once its workers are gone: removes what the platform kept for the agent itself (its cgroup scope). */
  releaseAgent(): Promise<void>;
}
