// A worker's account and space, everything of a worker that does not depend
// on its job (DESIGN §3.3): the ephemeral user and group with the slot's
// supplementary groups, its network policy, its root directory and disk, and
// the writable directories on it. A lease makes one for its job, or takes the
// one its slot made ahead while the previous job ran (worker-spares.ts);
// bindWorker (worker-setup.ts) then records it for the job and adds what is
// the job's: token, environment, script, device grants.
//
// Until it is bound, a space is not in the database: a crash leaves a user
// named ls-*, with its home under this agent's workers directory, a worker
// directory and an nftables chain of this agent's scope, all of which the
// next start's orphan sweeps remove (recovery.ts), and nothing else.
import { chmod, chown, mkdir } from 'node:fs/promises';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Logger } from '../log.js';
import type { Platform, WorkerAccount } from '../platform/platform.js';
import { removeTree } from '../platform/remove-tree.js';
import { workerUsername } from '../platform/worker-names.js';
import { allSteps } from './all-steps.js';
import { newWorkerId } from './ids.js';
import { workerDirs, workerDisk, workerRoot } from './job-paths.js';
import type { StepTimer } from './lease-clock.js';
import type { NetworkPolicy } from '../platform/network-policy.js';
import { agentPort, networkPolicyFor, type ResolveHost, resolveHost, samePolicy } from './network-policy.js';

export interface WorkerSpace {
  workerId: string;
  slot: string;
  account: WorkerAccount;
  root: string;
  /** The nftables chain (or the platform's equivalent), when [jobs] network = "slot". */
  networkPolicy: string | null;
  /** The rules it carries, as worked out when it was made (host names resolved then). */
  policy?: NetworkPolicy | undefined;
  /** False where the platform cannot cap the disk (a plain directory). */
  capped: boolean;
  /** Whether the disk's space is reserved on the host yet (Platform.reserveWorkerDisk): once a job is coming. */
  reserved: boolean;
}

export interface SpaceDeps {
  lab: LabModel;
  platform: Platform;
  log: Logger;
  agentUrl: () => string;
}

/** Makes a worker's space for `slot`; on failure, undoes what it made before it throws. */
export async function makeWorkerSpace(
  deps: SpaceDeps,
  slot: SlotModel,
  clock: StepTimer,
  workerId = newWorkerId(),
): Promise<WorkerSpace> {
  const { lab, platform } = deps;
  const username = workerUsername(workerId);
  const root = workerRoot(lab.stateDir, workerId);
  const dirs = workerDirs(root);
  // Worked out before anything exists: a name that does not resolve is said once, not halfway.
  const policy =
    lab.config.jobs.network === 'slot'
      ? await clock.time('setup.policy', () => networkPolicyFor(lab, slot, agentPort(deps.agentUrl()), deps.log))
      : undefined;
  const networkPolicy = policy === undefined ? null : platform.networkPolicyName(workerId);
  try {
    // Closed to all but root until the worker's group exists: the disk is made in it meanwhile.
    await mkdir(root, { mode: 0o700 });
    const user = (async (): Promise<WorkerAccount> => {
      const made = await clock.time('setup.user', () =>
        platform.createUser({ workerId, name: username, groups: slot.spec.add_to_groups, home: dirs.home }),
      );
      if (policy !== undefined && networkPolicy !== null)
        await clock.time('setup.network', () => platform.addNetworkPolicy(networkPolicy, made, policy));
      return made;
    })();
    // All its writable space on one filesystem of [jobs] limits.disk: a job that fills it gets ENOSPC, the state directory's disk never does.
    const disk = clock.time('setup.disk', () =>
      platform.createWorkerDisk(workerDisk(root), slot.limits.disk ?? lab.config.jobs.limits.disk),
    );
    // The user (and its network policy) and the disk do not depend on each other: made side by side.
    await allSteps([user, disk]);
    const made = await user;
    // The worker's group only: its token, environment and script will be in here, and worker ids are public.
    await chown(root, 0, made.gid);
    await chmod(root, 0o750);
    for (const dir of Object.values(dirs)) {
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, made.uid, made.gid);
    }
    return {
      workerId,
      slot: slot.name,
      account: made,
      root,
      networkPolicy,
      policy,
      capped: await disk,
      reserved: false,
    };
  } catch (error) {
    await undoWorkerSpace(platform, { root, networkPolicy, account: { username } }).catch((undoError: unknown) =>
      deps.log.error(
        { err: undoError, worker: workerId },
        'could not undo a worker that failed to be made; the next start removes what is left',
      ),
    );
    throw error;
  }
}

/**
 * Whether a space made ahead still carries its slot's network policy. It was worked out while the previous
 * job ran, possibly days ago, and a device's host name may point elsewhere now: worked out again here, as
 * for a worker made now (and failing as that would, for a name that no longer resolves).
 */
export async function policyStillHolds(
  deps: SpaceDeps,
  slot: SlotModel,
  space: Pick<WorkerSpace, 'policy'>,
  clock: StepTimer,
  resolve: ResolveHost = resolveHost,
): Promise<boolean> {
  if (space.policy === undefined) return true;
  const now = await clock.time('setup.policy', () =>
    networkPolicyFor(deps.lab, slot, agentPort(deps.agentUrl()), deps.log, resolve),
  );
  return samePolicy(space.policy, now);
}

/** Reserves the space's disk, of the slot's [jobs] limits.disk, on the host. */
export function reserveSpaceDisk(
  platform: Platform,
  lab: LabModel,
  slot: SlotModel,
  space: Pick<WorkerSpace, 'root'>,
): Promise<void> {
  return platform.reserveWorkerDisk(workerDisk(space.root), slot.limits.disk ?? lab.config.jobs.limits.disk);
}

/** Removes a space that no job got, or whose making failed (each step is idempotent): nothing of a job ever ran in it. */
export async function undoWorkerSpace(
  platform: Platform,
  space: Pick<WorkerSpace, 'root' | 'networkPolicy'> & { account: Pick<WorkerAccount, 'username'> },
): Promise<void> {
  await allSteps([
    platform.releaseWorkerDisk(workerDisk(space.root)),
    space.networkPolicy === null ? Promise.resolve() : platform.removeNetworkPolicy(space.networkPolicy),
    platform.deleteUser(space.account.username),
  ]);
  await removeTree(space.root);
}
