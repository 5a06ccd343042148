// Crash recovery (DESIGN §3.7): before a restarted agent offers any slot, it
// reconciles the database (cleans up every worker not recorded as destroyed,
// fails their jobs with "agent restarted", frees their slots), then removes
// worker users and directories of this agent that the database does not know.
import { readFileSync } from 'node:fs';
import { chmod, chown, readdir, stat } from 'node:fs/promises';
import { eq, ne } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { slots, workers } from '../db/schema.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/platform.js';
import { removeTree } from '../platform/remove-tree.js';
import { WORKER_USER_PREFIX, workerIdOfUsername } from '../platform/worker-names.js';
import { idsIn, WORKER_ID_MAX, WORKER_ID_MIN } from '../platform/unix-users.js';
import type { LabModel } from '../config/lab-model.js';
import { UsbSnapshot } from '../devices/device-checker.js';
import { deviceNode } from '../devices/device-node.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { workerDisk, workerRoot, workersDir } from './job-paths.js';
import type { PowerDeps } from '../slots/slot-power.js';
import { moveSlot } from '../slots/slot-usage.js';
import { powerAfterJob } from './power-after-job.js';
import { NOTHING_ACTIVE, reconcile, type AfterCleanup } from './reconcile.js';
import { outputsPolicy } from './worker-cleanup.js';

export interface RecoveryContext {
  db: Db;
  lab: LabModel;
  platform: Platform;
  log: Logger;
  listUsb: () => Promise<UsbDeviceInfo[]>;
}

export async function recoverAfterRestart(ctx: RecoveryContext): Promise<void> {
  const { db, lab, platform, log } = ctx;
  // A device recovery the crash cut short: the slot is idle again, and the sweep looks at it afresh.
  for (const { name } of db.select({ name: slots.name }).from(slots).where(eq(slots.usage, 'recovering')).all()) {
    moveSlot(db, name, 'recovering', 'idle');
    log.warn({ slot: name }, 'recovery was cut short by a restart; the slot is idle again');
  }
  await reconcile(db, platform, outputsPolicy(lab), log, NOTHING_ACTIVE, 'agent restarted', powerAfterCleanup(ctx));
  // The workers reconcile could not clean up; nothing below writes worker rows, so one read serves every sweep.
  const live = db
    .select({ id: workers.id, username: workers.username, gid: workers.gid })
    .from(workers)
    .where(ne(workers.state, 'destroyed'))
    .all();
  await sweepOrphanUsers(ctx, new Set(live.map((w) => w.username)));
  await sweepOrphanDirs(ctx, new Set(live.map((w) => w.id)));
  for (const what of await platform.sweepOrphans(new Set(live.map((w) => w.id))).catch((error: unknown) => {
    log.error({ err: coerceError(error) }, 'could not sweep orphan worker resources');
    return [];
  })) {
    orphanRemoved(db, log, `removed orphan ${what}`, { what });
  }
  await sweepOrphanGrants(ctx, new Set(live.map((w) => w.gid)));
}

function orphanRemoved(db: Db, log: Logger, message: string, data: Record<string, unknown>): void {
  recordEvent(db, { type: 'worker.orphan-removed', message, data });
  log.warn(data, 'orphan removed');
}

/**
 * A device node of this lab whose group is a worker gid that no group has any
 * more (the grant's row was lost with the database): nobody knows its original
 * owner, so it gets the safe default, root only, until udev or an operator
 * says otherwise. A gid whose group still exists belongs to a live worker, of
 * this agent or of another one on the host sharing the device: that grant is
 * not ours to take (our own orphan users and groups are gone by now).
 */
async function sweepOrphanGrants(
  { db, lab, log, listUsb }: RecoveryContext,
  liveGids: ReadonlySet<number>,
): Promise<void> {
  const groups = new Set(idsIn('/etc/group'));
  const usb = new UsbSnapshot(listUsb);
  for (const device of lab.devices.values()) {
    const found = await deviceNode(device.spec, () => usb.get()).catch(() => ({ node: null }));
    if (!('node' in found) || found.node === null) continue;
    try {
      const info = await stat(found.node);
      if (info.gid < WORKER_ID_MIN || info.gid > WORKER_ID_MAX || liveGids.has(info.gid) || groups.has(info.gid))
        continue;
      await chown(found.node, 0, 0);
      await chmod(found.node, 0o600);
      orphanRemoved(
        db,
        log,
        `device ${device.name} (${found.node}) was still owned by worker group ${info.gid}; reset to root 0600`,
        { device: device.name, node: found.node, gid: info.gid },
      );
    } catch (error) {
      log.error({ err: coerceError(error), device: device.name }, 'could not check a device node for an orphan grant');
    }
  }
}

/** This agent's worker users that no live worker row accounts for: a lost database. */
async function sweepOrphanUsers(
  { db, lab, platform, log }: RecoveryContext,
  known: ReadonlySet<string>,
): Promise<void> {
  for (const { name, uid } of localWorkerUsers(workersDir(lab.stateDir))) {
    if (known.has(name)) continue;
    try {
      await platform.killWorker({ workerId: workerIdOfUsername(name), username: name, uid, gid: uid }, 10_000);
      await platform.deleteUser(name);
      orphanRemoved(db, log, `removed orphan worker user ${name} (uid ${uid})`, { user: name, uid });
    } catch (error) {
      log.error({ err: coerceError(error), user: name }, 'could not remove orphan worker user');
    }
  }
}

/** Worker directories without a live worker row: a worker made ahead of its job (worker-space.ts) when the agent crashed, or a lost database. */
async function sweepOrphanDirs(ctx: RecoveryContext, live: ReadonlySet<string>): Promise<void> {
  const { db, lab, log } = ctx;
  let entries: string[];
  try {
    entries = await readdir(workersDir(lab.stateDir));
  } catch {
    return;
  }
  for (const entry of entries.filter((e) => !live.has(e))) {
    // removeTree, as cleanup uses: a job may have shaped its tree to resist fs.rm (deeper than PATH_MAX, a mount in it).
    const dir = workerRoot(lab.stateDir, entry);
    try {
      // Its disk first: rm stays on one filesystem, and a mounted disk or an attached loop device would survive it.
      await ctx.platform.releaseWorkerDisk(workerDisk(dir));
      await removeTree(dir);
      orphanRemoved(db, log, `removed orphan worker directory ${dir}`, { dir });
    } catch (error) {
      log.error({ err: coerceError(error), dir }, 'could not remove an orphan worker directory');
    }
  }
}

/**
 * Worker users of this agent: named `ls-*`, in the worker uid range, with a home under this agent's
 * workers directory. Another agent on the host (another state directory) has its own.
 */
function localWorkerUsers(ours: string): { name: string; uid: number }[] {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter(
      (f) =>
        f[0]?.startsWith(WORKER_USER_PREFIX) === true &&
        Number(f[2]) >= WORKER_ID_MIN &&
        Number(f[2]) <= WORKER_ID_MAX &&
        (f[5] ?? '').startsWith(`${ours}/`),
    )
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]) }));
}

/** power_after_job for a lease a crashed or stuck agent left: the same as the lease's own cleanup does. */
export function powerAfterCleanup(deps: PowerDeps): AfterCleanup {
  return async ({ jobId, workerId, slot }) => {
    const model = deps.lab.slots.get(slot);
    if (model !== undefined) await powerAfterJob(deps, model, { jobId, workerId });
  };
}
