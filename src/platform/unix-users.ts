// Ephemeral Unix users and groups for workers (DESIGN §3.3), made with the
// shadow tools (useradd/groupadd/userdel) so /etc/passwd, /etc/shadow and
// /etc/group stay consistent under their own locking.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { lastLines, runProcess } from './run-process.js';

/** Worker UIDs and GIDs come from [2^20, 2^30): far above any human or system account. */
export const WORKER_ID_MIN = 2 ** 20;
export const WORKER_ID_MAX = 2 ** 30 - 1;

const TOOL_TIMEOUT_MS = 15_000;

/** useradd/groupadd exit codes (shadow-utils): 4 = the id is taken, 9 = the name is taken. */
const EXIT_ID_TAKEN = 4;
/** userdel/groupdel: 6 = no such user or group. */
const EXIT_NOT_FOUND = 6;

export class UserCommandError extends Error {
  override readonly name = 'UserCommandError';
}

export interface NewUser {
  name: string;
  /** Supplementary groups (the slot's add_to_groups). */
  groups: readonly string[];
  home: string;
}

export interface CreatedUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Creates the user and its own group (useradd -U, one process: a job's
 * setup waits on it) with one random id, retrying when the id turns out to be
 * taken (a race with another tool, or an NSS account this host's files do not
 * list). useradd gives the group the
 * user's id when that gid is free, which freeId made sure of; should another
 * tool have taken it meanwhile, the group gets another id, read back here.
 */
export async function createUser(user: NewUser, signal?: AbortSignal): Promise<CreatedUser> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const id = freeId();
    const created = await tool(
      [
        'useradd',
        '-u',
        String(id),
        '-U',
        ...(user.groups.length > 0 ? ['-G', user.groups.join(',')] : []),
        '-M',
        '-d',
        user.home,
        '-s',
        '/bin/sh',
        '-c',
        'labslot worker',
        // Quiet the range warnings, and keep workers out of /etc/subuid and the mail spool.
        '-K',
        `UID_MIN=${WORKER_ID_MIN}`,
        '-K',
        `UID_MAX=${WORKER_ID_MAX}`,
        '-K',
        `GID_MIN=${WORKER_ID_MIN}`,
        '-K',
        `GID_MAX=${WORKER_ID_MAX}`,
        '-K',
        'SUB_UID_COUNT=0',
        '-K',
        'SUB_GID_COUNT=0',
        '-K',
        'MAIL_DIR=/nonexistent',
        user.name,
      ],
      signal,
    );
    if (created.code === EXIT_ID_TAKEN) continue;
    if (created.code !== 0)
      throw new UserCommandError(
        `useradd ${user.name} failed (exit ${String(created.code)}): ${lastLines(created.output, 2)}`,
      );
    const gid = primaryGid(user.name);
    if (gid === undefined)
      throw new UserCommandError(`useradd ${user.name} succeeded, but /etc/passwd has no such user`);
    return { name: user.name, uid: id, gid };
  }
  throw new UserCommandError(`no free uid/gid for ${user.name} after 5 tries`);
}

/** The primary gid of a local user (/etc/passwd), or undefined. */
function primaryGid(name: string): number | undefined {
  const line = readLines('/etc/passwd').find((l) => l.split(':', 1)[0] === name);
  const gid = Number(line?.split(':')[3]);
  return line === undefined || !Number.isInteger(gid) ? undefined : gid;
}

/** Removes the user and its group; a user or group that is already gone is fine (cleanup is idempotent). */
export async function deleteUser(name: string, signal?: AbortSignal): Promise<void> {
  const result = await tool(['userdel', name], signal);
  if (result.code !== 0 && result.code !== EXIT_NOT_FOUND)
    throw new UserCommandError(`userdel ${name} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`);
  // userdel takes the user's own group along (USERGROUPS_ENAB); remove it when it did not,
  // or when a crash came between groupadd and useradd.
  if (localGroupExists(name)) await deleteGroup(name, signal);
}

async function deleteGroup(name: string, signal?: AbortSignal): Promise<void> {
  const result = await tool(['groupdel', name], signal);
  if (result.code !== 0 && result.code !== EXIT_NOT_FOUND)
    throw new UserCommandError(`groupdel ${name} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`);
}

/** The account name of a uid through NSS (getent), or undefined when no account has it. */
export async function accountOfUid(uid: number, signal?: AbortSignal): Promise<string | undefined> {
  // /etc/passwd first (NSS reads it first too): a worker's account is there, and getent is a process per call.
  const local = readLines('/etc/passwd').find((line) => line.split(':')[2] === String(uid));
  if (local !== undefined) return local.split(':', 1)[0] || undefined;
  const result = await tool(['getent', 'passwd', String(uid)], signal, false);
  if (result.code !== 0) return undefined;
  return result.output.split(':', 1)[0] || undefined;
}

function localGroupExists(name: string): boolean {
  return namesIn('/etc/group').includes(name);
}

/** A random id that no local user or group has; useradd/groupadd catch the rest. */
function freeId(): number {
  const taken = new Set([...idsIn('/etc/passwd'), ...idsIn('/etc/group')]);
  for (;;) {
    const id = randomInt(WORKER_ID_MIN, WORKER_ID_MAX + 1);
    if (!taken.has(id)) return id;
  }
}

function namesIn(file: string): string[] {
  return readLines(file).map((line) => line.split(':', 1)[0] ?? '');
}

/** Ids (third field) of every entry of a passwd or group file; [] when it cannot be read. */
export function idsIn(file: string): number[] {
  return readLines(file).map((line) => Number(line.split(':')[2]));
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
  } catch {
    return [];
  }
}

/** holdsHostLock: the shadow tools, which all queue on one lock of the host's (lckpwdf). */
async function tool(argv: string[], signal?: AbortSignal, holdsHostLock = true): ReturnType<typeof runProcess> {
  const result = await runProcess(argv, {
    timeoutMs: TOOL_TIMEOUT_MS,
    signal,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    // Every useradd, userdel and groupdel on the host queues on that lock, held while four files are
    // rewritten and synced: one preempted there holds up every slot's setup and cleanup (issue 17).
    holdsHostLock,
  });
  if (result.spawnError)
    throw new UserCommandError(`cannot run ${argv[0] ?? ''}: ${result.spawnError.message}`, {
      cause: result.spawnError,
    });
  if (result.timedOut) throw new UserCommandError(`${argv[0] ?? ''} did not finish within ${TOOL_TIMEOUT_MS / 1000} s`);
  return result;
}
