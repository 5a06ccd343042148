// Worker setup (DESIGN §3.3), the part that is the job's: a worker's space
// (worker-space.ts: the ephemeral user and group, its root, disk and
// directories) goes on record for the job, then its disk's space is reserved,
// the slot's device nodes are granted to the worker's group, and the job's
// token, environment and script are written. The worker is in the database
// before any of that, so a crash at any step leaves something cleanup finds.
import { appendFile, chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Logger } from '../log.js';
import type { Db } from '../db/open-database.js';
import { UsbSnapshot } from '../devices/device-checker.js';
import { deviceNode } from '../devices/device-node.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { newWorkerToken, sha256Hex } from '../tokens.js';
import type { JobLaunch, Platform, WorkerAccount } from '../platform/platform.js';
import { INSTALL_ROOT } from './command-wrapper.js';
import { grantDevices, type NodeToGrant } from '../devices/device-grants.js';
import { humilityEnvironment, leftOutNote } from './humility-environment.js';
import { jobEnvironment } from './job-environment.js';
import { INPUT_IN_JOB, jobInputDir, jobOutputPath, OUTPUT_IN_JOB, workerDirs } from './job-paths.js';
import type { JobRow } from './job-view.js';
import { recordWorker } from './lease-records.js';
import type { StepTimer } from './lease-clock.js';
import { reserveSpaceDisk, type WorkerSpace } from './worker-space.js';

export class WorkerSetupError extends Error {
  override readonly name = 'WorkerSetupError';
}

export interface SetupContext {
  lab: LabModel;
  db: Db;
  slot: SlotModel;
  job: JobRow;
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

/**
 * Gives `space` (made for this job, or ahead of it: worker-space.ts) to the job: on record first, then
 * its disk's space reserved, its device nodes granted, its token, environment and script written.
 */
export async function bindWorker(ctx: SetupContext, space: WorkerSpace): Promise<PreparedWorker> {
  const { lab, db, slot, job, clock } = ctx;
  const { workerId, root, account: user } = space;
  const token = newWorkerToken();
  const username = user.username;
  const dirs = workerDirs(root);
  clock.timeSync('setup.record', () =>
    recordWorker(db, {
      id: workerId,
      jobId: job.id,
      slot: slot.name,
      username,
      uid: user.uid,
      gid: user.gid,
      networkPolicy: space.networkPolicy,
      tokenHash: sha256Hex(token),
      rootDir: root,
    }),
  );
  // Only now, with a job to serve (a worker made ahead had it reserved as this lease began): until then it holds none of the host's disk.
  if (!space.reserved) await clock.time('setup.reserve', () => reserveSpaceDisk(ctx.platform, lab, slot, space));
  if (!space.capped)
    ctx.log.warn(
      { platform: ctx.platform.name, disk: slot.limits.disk },
      "this platform cannot cap a job's disk ([jobs] limits.disk); the job's writable space is not limited",
    );

  // The nodes as they are now, after the pre-lease check: a probe that vanished since fails the setup.
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

  await clock.time('setup.grants', () => grantDevices(db, workerId, user.gid, grants));

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
