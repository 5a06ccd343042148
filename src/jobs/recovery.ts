// Crash recovery (DESIGN §3.7): before a restarted agent offers any slot, it
// reconciles the database (cleans up every worker not recorded as destroyed,
// fails their jobs with "agent restarted", frees their slots), then removes
// worker users and directories of this agent that the database does not know.
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { ne } from 'drizzle-orm';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { workers } from '../db/schema.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import { deleteUser, WORKER_ID_MAX, WORKER_ID_MIN } from '../platform/unix-users.js';
import { killUser } from '../platform/user-processes.js';
import { workerRoot, workersDir } from './job-paths.js';
import { NOTHING_ACTIVE, reconcile } from './reconcile.js';

export const WORKER_USER_PREFIX = 'ls-';

export async function recoverAfterRestart(db: Db, stateDir: string, log: Logger): Promise<void> {
  await reconcile(db, log, NOTHING_ACTIVE, 'agent restarted');
  await sweepOrphanUsers(db, stateDir, log);
  await sweepOrphanDirs(db, stateDir, log);
}

/** This agent's worker users that no live worker row accounts for: a lost database. */
async function sweepOrphanUsers(db: Db, stateDir: string, log: Logger): Promise<void> {
  const known = new Set(db.select({ username: workers.username }).from(workers).where(ne(workers.state, 'destroyed')).all().map((w) => w.username));
  for (const { name, uid } of localWorkerUsers(workersDir(stateDir))) {
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
    .filter((f) => f[0]?.startsWith(WORKER_USER_PREFIX) === true && Number(f[2]) >= WORKER_ID_MIN && Number(f[2]) <= WORKER_ID_MAX && (f[5] ?? '').startsWith(`${ours}/`))
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]) }));
}
