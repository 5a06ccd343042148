// Cleanup of a worker (DESIGN §3.6): kill what its UID still runs, remove its
// network policy, restore device nodes, remove its files, delete its user and
// group. Every step is idempotent, so the same function finishes a cleanup
// that a crash or an error interrupted, as often as needed.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { jobs, workers } from '../db/schema.js';
import { coerceError } from '../errors.js';
import { removeTree } from '../platform/remove-tree.js';
import type { LabModel } from '../config/lab-model.js';
import type { Platform } from '../platform/platform.js';
import { createArchive } from './job-archives.js';
import { jobOutputsArchive, workerDirs, workerDisk } from './job-paths.js';
import { holdSlot } from '../slots/holds.js';
import { restoreGrants } from '../devices/device-grants.js';
import { jobEndData, type JobOutcome } from './job-outcome.js';
import { finishJob } from './lease-records.js';
import { NO_CLOCK, type StepTimer } from './lease-clock.js';
import { allSteps } from './all-steps.js';

export type WorkerRow = typeof workers.$inferSelect;

/** How long SIGKILL may take to empty a UID before cleanup calls it a failure. */
const KILL_TIMEOUT_MS = 10_000;

export class CleanupError extends Error {
  override readonly name = 'CleanupError';
}

/** What cleanup keeps of a worker's $LABSLOT_OUTPUT, and where. */
export interface OutputsPolicy {
  stateDir: string;
  maxBytes: number;
}

export function outputsPolicy(lab: LabModel): OutputsPolicy {
  return { stateDir: lab.stateDir, maxBytes: lab.config.jobs.max_outputs };
}

/**
 * No AbortSignal on purpose: cleanup is never cut short (each step has its own timeout), since the slot is
 * idle only after it. Once nothing of the job runs, the disk and the rest are undone side by side: none of
 * them depends on another, and each waits on its own tools.
 */
export async function cleanupWorker(
  db: Db,
  platform: Platform,
  worker: WorkerRow,
  outputs: OutputsPolicy,
  clock: StepTimer = NO_CLOCK,
): Promise<void> {
  // Cleanup frees space before it needs any: on a full disk this write may fail, and must not keep the worker's disk from being freed.
  tolerate(() => db.update(workers).set({ state: 'cleaning' }).where(eq(workers.id, worker.id)).run());
  // uid -1: the crash came before the user existed; only its cgroup, files and grants can be left.
  // A uid that turned out to belong to another account (useradd refused it) is not ours to kill.
  const owner = worker.uid > 0 ? await platform.accountOfUid(worker.uid) : undefined;
  const ours = worker.uid > 0 && (owner === undefined || owner === worker.username);
  const account = { workerId: worker.id, username: worker.username, uid: ours ? worker.uid : -1, gid: worker.gid };
  const left = await clock.time('cleanup.kill', () => platform.killWorker(account, KILL_TIMEOUT_MS));
  if (left.length > 0)
    throw new CleanupError(`processes of worker ${worker.id} (uid ${worker.uid}) survived SIGKILL: ${left.join(', ')}`);
  // Only now that nothing of the job runs can its outputs be read without it changing them underneath.
  await clock.time('cleanup.outputs', () => keepOutputs(db, worker, outputs));
  await allSteps([
    // The job's disk at once: it is the space a full state directory needs back.
    clock.time('cleanup.disk', () => platform.releaseWorkerDisk(workerDisk(worker.rootDir))),
    clock.time('cleanup.cgroups', () => platform.releaseWorker(account)),
    // Only what is on record: with [jobs] network = "host" there is none, and nft may not even exist.
    worker.networkPolicy === null
      ? Promise.resolve()
      : clock.time('cleanup.network', () => platform.removeNetworkPolicy(worker.networkPolicy ?? '')),
    // The user goes only once its device nodes are back: a node is never left with a group nobody has.
    clock
      .time('cleanup.grants', () => restoreGrants(db, worker.id))
      .then(() => clock.time('cleanup.user', () => platform.deleteUser(worker.username))),
  ]);
  await clock.time('cleanup.files', () => removeTree(worker.rootDir));
}

/** Cleanup retries, with a short pause: a process may still be exiting, a tool may be busy. */
export async function cleanupWithRetries(
  db: Db,
  platform: Platform,
  worker: WorkerRow,
  outputs: OutputsPolicy,
  attempts = 3,
  clock: StepTimer = NO_CLOCK,
): Promise<void> {
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      await cleanupWorker(db, platform, worker, outputs, clock);
      return;
    } catch (error) {
      last = error;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
  throw last;
}

/**
 * Cleanup did not finish: the job still gets its final state (its output is
 * complete), the slot stays `cleaning` under a `system` hold with the error,
 * and the agent retries the cleanup later.
 */
export function recordCleanupFailure(
  db: Db,
  lease: { jobId: string; workerId: string; slot: string },
  outcome: JobOutcome,
  error: unknown,
  at = Date.now(),
): void {
  const message = coerceError(error).message;
  db.transaction((tx) => {
    tx.update(workers)
      .set({ state: 'cleanup-failed', cleanupError: message })
      .where(eq(workers.id, lease.workerId))
      .run();
    const ended = finishJob(tx, lease.jobId, outcome, at);
    recordEvent(
      tx,
      {
        type: 'worker.cleanup-failed',
        slot: lease.slot,
        jobId: lease.jobId,
        workerId: lease.workerId,
        message: `cleanup of worker ${lease.workerId} in ${lease.slot} failed: ${message}`,
        ...(ended ? { data: jobEndData(ended) } : {}),
      },
      at,
    );
  });
  holdSlot(
    db,
    lease.slot,
    {
      reason: `cleanup of worker ${lease.workerId} failed: ${message}`,
      source: 'system',
      by: 'labslot',
      jobId: lease.jobId,
      workerId: lease.workerId,
    },
    at,
  );
}

/**
 * Archives what the job left under $LABSLOT_OUTPUT into the job's directory,
 * once (a repeated cleanup finds the archive made). Outputs over the cap, or
 * a tree the archiver cannot read, are discarded with an event saying why:
 * that must not keep the slot from being cleaned.
 */
async function keepOutputs(db: Db, worker: WorkerRow, policy: OutputsPolicy): Promise<void> {
  const dir = workerDirs(worker.rootDir).output;
  const archive = jobOutputsArchive(policy.stateDir, worker.jobId);
  if (!existsSync(dir) || existsSync(archive)) return;
  const discard = (why: string): void =>
    tolerate(() =>
      recordEvent(db, {
        type: 'job.outputs-discarded',
        slot: worker.slot,
        jobId: worker.jobId,
        workerId: worker.id,
        message: `outputs of job ${worker.jobId} not kept: ${why}`,
      }),
    );
  let result;
  try {
    result = await createArchive(dir, `${archive}.part`, policy.maxBytes);
  } catch (error) {
    await rm(`${archive}.part`, { force: true });
    discard(coerceError(error).message);
    return;
  }
  if (!result.ok) {
    discard(`${result.reason} ([jobs] max_outputs)`);
    return;
  }
  if (result.summary.files === 0 && !existsSync(`${archive}.part`)) return;
  await rename(`${archive}.part`, archive);
  tolerate(() => db.update(jobs).set({ outputsBytes: result.summary.bytes }).where(eq(jobs.id, worker.jobId)).run());
  if (result.skipped.length > 0) discard(`left out (not regular files): ${result.skipped.slice(0, 10).join(', ')}`);
}

/** A write that cleanup can do without (a state, an event, a size): on a full or locked database it is skipped, not fatal. */
function tolerate(write: () => unknown): void {
  try {
    write();
  } catch {
    // The cleanup's own record (completeLease) comes after the space is freed, and is retried with the cleanup.
  }
}
