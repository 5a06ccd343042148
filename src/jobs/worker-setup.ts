// Worker setup (DESIGN §3.3): an ephemeral user and group, a root-owned
// worker root with the user's own home, work and tmp inside, the slot's
// device nodes granted to the worker's group, and the job's environment.
// The worker is in the database before any of it exists, so a crash at any
// step leaves something cleanup can find.
import { appendFile, chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Logger } from '../log.js';
import type { Db } from '../db/open-database.js';
import { UsbSnapshot } from '../devices/device-checker.js';
import { deviceNode } from '../devices/device-node.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { newWorkerToken, sha256Hex } from '../tokens.js';
import type { JobLaunch, Platform, WorkerAccount } from '../platform/platform.js';
import { workerUsername } from '../platform/worker-names.js';
import { INSTALL_ROOT } from './command-wrapper.js';
import { grantDevices, type NodeToGrant } from '../devices/device-grants.js';
import { humilityEnvironment, leftOutNote } from './humility-environment.js';
import { jobEnvironment } from './job-environment.js';
import {
  INPUT_IN_JOB,
  jobInputDir,
  jobOutputPath,
  OUTPUT_IN_JOB,
  workerDirs,
  workerDisk,
  workerRoot,
} from './job-paths.js';
import type { JobRow } from './job-view.js';
import { recordNetworkPolicy, recordWorker, recordWorkerIds } from './lease-records.js';
import { agentPort, networkPolicyFor } from './network-policy.js';
import { allSteps } from './all-steps.js';
import type { StepTimer } from './lease-clock.js';

export class WorkerSetupError extends Error {
  override readonly name = 'WorkerSetupError';
}

export interface SetupContext {
  lab: LabModel;
  db: Db;
  slot: SlotModel;
  job: JobRow;
  workerId: string;
  agentUrl: string;
  commandDir: string;
  listUsb: () => Promise<UsbDeviceInfo[]>;
  platform: Platform;
  log: Logger;
  clock: StepTimer;
}

export interface PreparedWorker {
  account: WorkerAccount;
  launch: JobLaunch;
}

/** Where the job sees a device node: its own path, except PTYs, since the sandbox has its own /dev/pts. */
export function nodeInJob(device: string, node: string): string {
  return node.startsWith('/dev/pts/') ? `/dev/labslot/${device}` : node;
}

export async function setupWorker(ctx: SetupContext): Promise<PreparedWorker> {
  const { lab, db, slot, job, workerId, clock } = ctx;
  const token = newWorkerToken();
  const username = workerUsername(workerId);
  const root = workerRoot(lab.stateDir, workerId);
  const dirs = workerDirs(root);
  clock.timeSync('setup.record', () =>
    recordWorker(db, {
      id: workerId,
      jobId: job.id,
      slot: slot.name,
      username,
      tokenHash: sha256Hex(token),
      rootDir: root,
    }),
  );

  // Resolve the nodes first: a probe that vanished after the pre-lease check fails setup before a user exists.
  const nodes = new Map<string, string | null>();
  const grants: NodeToGrant[] = [];
  // One bus enumeration for all of the slot's probes.
  const usb = new UsbSnapshot(ctx.listUsb);
  for (const device of slot.devices) {
    const spec = lab.devices.get(device)?.spec;
    if (!spec) continue;
    const found = await deviceNode(spec, () => usb.get());
    if ('missing' in found) throw new WorkerSetupError(`device ${device} is gone: ${found.missing}`);
    nodes.set(device, found.node === null ? null : nodeInJob(device, found.node));
    if (found.node !== null && !grants.some((g) => g.path === found.node)) grants.push({ device, path: found.node });
  }

  // Worked out before anything exists: a name that does not resolve is said once, not mid-setup.
  const policy =
    lab.config.jobs.network === 'slot'
      ? await clock.time('setup.policy', () => networkPolicyFor(lab, slot, agentPort(ctx.agentUrl), ctx.log))
      : undefined;

  // Its directory is closed to all but root until the worker's group exists: the disk is made in it meanwhile.
  await mkdir(root, { mode: 0o700 });
  let user: WorkerAccount | undefined;
  let capped = true;
  // The user (and its network policy) and the disk do not depend on each other: made side by side.
  await allSteps([
    (async () => {
      user = await clock.time('setup.user', () =>
        ctx.platform.createUser({ workerId, name: username, groups: slot.spec.add_to_groups, home: dirs.home }, (ids) =>
          recordWorkerIds(db, workerId, ids),
        ),
      );
      if (policy === undefined) return;
      const account = user;
      // On record first: a crash between the two leaves a name that cleanup and the next start remove.
      const name = ctx.platform.networkPolicyName(workerId);
      recordNetworkPolicy(db, workerId, name);
      await clock.time('setup.network', () => ctx.platform.addNetworkPolicy(name, account, policy));
    })(),
    // All its writable space on one filesystem of [jobs] limits.disk: a job that fills it gets ENOSPC, the state directory's disk never does.
    clock
      .time('setup.disk', () =>
        ctx.platform.createWorkerDisk(workerDisk(root), slot.limits.disk ?? lab.config.jobs.limits.disk),
      )
      .then((made) => (capped = made)),
  ]);
  if (user === undefined) throw new WorkerSetupError(`worker ${workerId} has no user`);
  // The worker's group only: its token, environment and script are in here, and worker ids are public.
  await chown(root, 0, user.gid);
  await chmod(root, 0o750);
  if (!capped)
    ctx.log.warn(
      { platform: ctx.platform.name, disk: slot.limits.disk },
      "this platform cannot cap a job's disk ([jobs] limits.disk); the job's writable space is not limited",
    );
  for (const dir of Object.values(dirs)) {
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, user.uid, user.gid);
  }
  const humilityFile = join(root, 'humility-environment.json');
  const humility = humilityEnvironment(lab, slot, job.archives);
  await writeFile(humilityFile, `${JSON.stringify(humility.entries, null, 2)}\n`, { mode: 0o640 });
  await chown(humilityFile, 0, user.gid);
  // Said in the job's own output, before anything it prints: that is where `humility -t sp` will fail.
  if (humility.leftOut.length > 0)
    await appendFile(jobOutputPath(lab.stateDir, job.id), leftOutNote(humility.leftOut), { mode: 0o600 });
  let command = job.argv ?? [];
  if (job.script !== null) {
    const scriptFile = join(root, 'job.sh');
    // Readable by this worker's group only: a script may hold the submitter's secrets.
    await writeFile(scriptFile, job.script, { mode: 0o640 });
    await chown(scriptFile, 0, user.gid);
    command = ['/bin/sh', scriptFile];
  }

  const gid = user.gid;
  await clock.time('setup.grants', () => grantDevices(db, workerId, gid, grants));

  const env = jobEnvironment(
    { lab, slot, agentUrl: ctx.agentUrl, commandDir: ctx.commandDir, jobEnv: job.env },
    { workerId, jobId: job.id, username, token, home: dirs.home, work: '/work', tmp: '/tmp', humilityFile, nodes },
  );
  const launch: JobLaunch = {
    worker: user,
    command,
    env,
    privateDir: root,
    cwd: '/work',
    outputFile: jobOutputPath(lab.stateDir, job.id),
    readOnly: [
      { host: root, inJob: root },
      { host: ctx.commandDir, inJob: ctx.commandDir },
      { host: INSTALL_ROOT, inJob: INSTALL_ROOT },
      ...(job.input === 'ready' ? [{ host: jobInputDir(lab.stateDir, job.id), inJob: INPUT_IN_JOB }] : []),
    ],
    writable: [
      { host: dirs.home, inJob: dirs.home },
      { host: dirs.work, inJob: '/work' },
      { host: dirs.tmp, inJob: '/tmp' },
      { host: dirs.varTmp, inJob: '/var/tmp' },
      { host: dirs.output, inJob: OUTPUT_IN_JOB },
    ],
    devices: grants.map((g) => ({ host: g.path, inJob: nodeInJob(g.device, g.path) })),
    limits: {
      memoryBytes: slot.limits.memory,
      pids: slot.limits.pids,
      cpus: slot.limits.cpu,
      shmBytes: slot.limits.shm,
    },
  };
  return { account: user, launch };
}
