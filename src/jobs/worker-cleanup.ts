// Cleanup of a worker (DESIGN §3.6): kill what its UID still runs, restore
// device nodes, remove its files, delete its user and group. Every step is
// idempotent, so the same function finishes a cleanup that a crash or an
// error interrupted, as often as needed.
import { eq } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { workers } from '../db/schema.js';
import { coerceError } from '../errors.js';
import { removeTree } from '../platform/remove-tree.js';
import type { Platform } from '../platform/platform.js';
import { holdSlot } from '../slots/holds.js';
import { restoreGrants } from './device-grants.js';
import type { JobOutcome } from './job-outcome.js';
import { finishJob } from './lease-records.js';

export type WorkerRow = typeof workers.$inferSelect;

/** How long SIGKILL may take to empty a UID before cleanup calls it a failure. */
const KILL_TIMEOUT_MS = 10_000;

export class CleanupError extends Error {
  override readonly name = 'CleanupError';
}

export async function cleanupWorker(db: Db, platform: Platform, worker: WorkerRow, signal?: AbortSignal): Promise<void> {
  db.update(workers).set({ state: 'cleaning' }).where(eq(workers.id, worker.id)).run();
  // uid -1: the crash came before the user existed; only its cgroup, files and grants can be left.
  // A uid that turned out to belong to another account (useradd refused it) is not ours to kill.
  const owner = worker.uid > 0 ? await platform.accountOfUid(worker.uid, signal) : undefined;
  const ours = worker.uid > 0 && (owner === undefined || owner === worker.username);
  const account = { workerId: worker.id, username: worker.username, uid: ours ? worker.uid : -1, gid: worker.gid };
  const left = await platform.killWorker(account, KILL_TIMEOUT_MS, signal);
  if (left.length > 0) throw new CleanupError(`processes of worker ${worker.id} (uid ${worker.uid}) survived SIGKILL: ${left.join(', ')}`);
  await platform.releaseWorker(account, signal);
  await restoreGrants(db, worker.id);
  await platform.deleteUser(worker.username, signal);
  await removeTree(worker.rootDir, signal);
}

/** Cleanup retries, with a short pause: a process may still be exiting, a tool may be busy. */
export async function cleanupWithRetries(db: Db, platform: Platform, worker: WorkerRow, attempts = 3, signal?: AbortSignal): Promise<void> {
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      await cleanupWorker(db, platform, worker, signal);
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
export function recordCleanupFailure(db: Db, lease: { jobId: string; workerId: string; slot: string }, outcome: JobOutcome, error: unknown, at = Date.now()): void {
  const message = coerceError(error).message;
  db.transaction((tx) => {
    tx.update(workers).set({ state: 'cleanup-failed', cleanupError: message }).where(eq(workers.id, lease.workerId)).run();
    finishJob(tx, lease.jobId, outcome, at);
    recordEvent(tx, { type: 'worker.cleanup-failed', slot: lease.slot, jobId: lease.jobId, workerId: lease.workerId, message: `cleanup of worker ${lease.workerId} in ${lease.slot} failed: ${message}` }, at);
  });
  holdSlot(db, lease.slot, { reason: `cleanup of worker ${lease.workerId} failed: ${message}`, source: 'system', by: 'labslot', jobId: lease.jobId, workerId: lease.workerId }, at);
}
