// Crash recovery (DESIGN §3.7): before a restarted agent offers any slot, it
// finishes the cleanup of every worker not recorded as destroyed, fails the
// jobs those workers ran ("agent restarted"), frees their slots, and removes
// worker users that the database does not know. Also retries cleanups that
// failed, for as long as they keep failing.
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { eq, inArray, ne } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { jobs, slots, workers } from '../db/schema.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import { deleteUser, WORKER_ID_MAX, WORKER_ID_MIN } from '../platform/unix-users.js';
import { killUser } from '../platform/user-processes.js';
import { infrastructureFailure } from './job-outcome.js';
import { workerRoot, workersDir } from './job-paths.js';
import { completeLease, finishJob, resetSlot } from './lease-records.js';
import { cleanupWithRetries, recordCleanupFailure, type WorkerRow } from './worker-cleanup.js';

export const WORKER_USER_PREFIX = 'ls-';

export async function recoverAfterRestart(db: Db, stateDir: string, log: Logger): Promise<void> {
  const outcome = infrastructureFailure('agent restarted');
  const leftovers = db.select().from(workers).where(ne(workers.state, 'destroyed')).all();
  // Cleanups that failed before are tried again too: a restart is often how an operator says "try again".
  for (const worker of leftovers) {
    await cleanUp(db, log, worker, () => {
      finishJob(db, worker.jobId, outcome);
      recordEvent(db, { type: 'job.ended', slot: worker.slot, jobId: worker.jobId, workerId: worker.id, message: `job ${worker.jobId} failed: agent restarted` });
    });
  }
  // Jobs and slots caught between claim and worker (the pre-lease check) have nothing to clean.
  for (const job of db.select().from(jobs).where(inArray(jobs.state, ['leased', 'running', 'cleaning'])).all()) {
    finishJob(db, job.id, outcome);
    recordEvent(db, { type: 'job.ended', slot: job.slot ?? undefined, jobId: job.id, message: `job ${job.id} failed: agent restarted` });
  }
  const stuck = db.select().from(slots).where(ne(slots.usage, 'idle')).all();
  const failing = new Set(db.select({ slot: workers.slot }).from(workers).where(eq(workers.state, 'cleanup-failed')).all().map((w) => w.slot));
  for (const slot of stuck.filter((s) => !failing.has(s.name))) {
    resetSlot(db, slot.name, `agent restarted while it was ${slot.usage}`);
    log.info({ slot: slot.name, was: slot.usage }, 'slot recovered after restart');
  }
  await sweepOrphanUsers(db, log);
  await sweepOrphanDirs(db, stateDir, log);
}

/** Retries cleanups that failed before; a slot whose cleanup now succeeds becomes idle (its hold stays). */
export async function retryFailedCleanups(db: Db, log: Logger): Promise<void> {
  for (const worker of db.select().from(workers).where(eq(workers.state, 'cleanup-failed')).all()) {
    await cleanUp(db, log, worker, () => undefined);
  }
}

async function cleanUp(db: Db, log: Logger, worker: WorkerRow, onCleaned: () => void): Promise<void> {
  const lease = { jobId: worker.jobId, workerId: worker.id, slot: worker.slot };
  try {
    await cleanupWithRetries(db, worker, 2);
    onCleaned();
    completeLease(db, lease, infrastructureFailure('agent restarted'));
    log.info({ worker: worker.id, slot: worker.slot, job: worker.jobId }, 'worker cleaned up after restart');
  } catch (error) {
    log.error({ err: coerceError(error), worker: worker.id, slot: worker.slot }, 'worker cleanup failed again; slot stays held');
    recordCleanupFailure(db, lease, infrastructureFailure('agent restarted'), error);
  }
}

/** `ls-*` users in the worker id range that no live worker row accounts for: a lost database, or a crash before the row was written. */
async function sweepOrphanUsers(db: Db, log: Logger): Promise<void> {
  const known = new Set(db.select({ username: workers.username }).from(workers).where(ne(workers.state, 'destroyed')).all().map((w) => w.username));
  for (const { name, uid } of localWorkerUsers()) {
    if (known.has(name)) continue;
    try {
      await killUser(uid, 10_000);
      await deleteUser(name);
      recordEvent(db, { type: 'worker.orphan-removed', message: `removed orphan worker user ${name} (uid ${uid})`, data: { user: name, uid } });
      log.warn({ user: name, uid }, 'orphan worker user removed');
    } catch (error) {
      log.error({ err: coerceError(error), user: name }, 'could not remove orphan worker user');
    }
  }
}

/** Worker directories without a live worker row (a crash between mkdir and the row is impossible, but a lost database is not). */
async function sweepOrphanDirs(db: Db, stateDir: string, log: Logger): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(workersDir(stateDir));
  } catch {
    return;
  }
  const live = new Set(db.select({ id: workers.id }).from(workers).where(ne(workers.state, 'destroyed')).all().map((w) => w.id));
  for (const entry of entries.filter((e) => !live.has(e))) {
    await rm(workerRoot(stateDir, entry), { recursive: true, force: true }).catch((error: unknown) => log.error({ err: coerceError(error), dir: entry }, 'could not remove an orphan worker directory'));
    log.warn({ dir: entry }, 'orphan worker directory removed');
  }
}

function localWorkerUsers(): { name: string; uid: number }[] {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f[0]?.startsWith(WORKER_USER_PREFIX) === true && Number(f[2]) >= WORKER_ID_MIN && Number(f[2]) <= WORKER_ID_MAX)
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]) }));
}
