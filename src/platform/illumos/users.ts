// Ephemeral worker users and groups on illumos, with its own groupadd,
// useradd, userdel and groupdel (the SVR4 tools, whose exit codes are those of
// <userdefs.h>), and the local passwd file for finding what a crash left.
// Ids come from the same range as on Linux, [2^20, 2^30), well inside
// illumos' MAXUID (2147483646).
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  EX_ID_EXISTS,
  EX_NAME_NOT_EXIST,
  getentPasswdArgv,
  groupaddArgv,
  groupdelArgv,
  useraddArgv,
  userdelArgv,
  type WorkerUserSpec,
} from './commands.js';
import { IllumosToolError, runTool } from './tool.js';
import { lastLines } from '../run-process.js';
import { WORKER_ID_MAX, WORKER_ID_MIN } from '../unix-users.js';

const ID_ATTEMPTS = 5;

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Entries of a passwd(5) file; malformed lines (and NIS `+` lines) are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 7) continue;
    const [name = '', , uid = '', gid = '', , home = ''] = fields;
    if (name === '' || name.startsWith('+') || name.startsWith('-') || !/^\d+$/.test(uid) || !/^\d+$/.test(gid))
      continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home });
  }
  return entries;
}

/** Ids (third field) of a passwd or group file. */
export function idsOf(text: string): number[] {
  return text
    .split('\n')
    .map((line) => line.split(':')[2] ?? '')
    .filter((field) => /^\d+$/.test(field))
    .map(Number);
}

/** A random id in the worker range that no local user or group has; the tools catch the rest. */
export function pickWorkerId(
  taken: ReadonlySet<number>,
  random: (min: number, max: number) => number = randomInt,
): number {
  for (;;) {
    const id = random(WORKER_ID_MIN, WORKER_ID_MAX + 1);
    if (!taken.has(id)) return id;
  }
}

/**
 * Worker users this agent made that no known worker accounts for: named
 * `ls-*`, in the worker range, with a home under this agent's workers
 * directory (another agent on the host has its own). The worker id is the
 * name's tail after `ls-`, with the `w` the user name drops.
 */
/**
 * Worker ids whose user belongs to this agent (home under its workers
 * directory). A worker's instance, project and log exist only while its user
 * does (cleanup removes them first), so they are this agent's exactly when
 * the user is: another agent's on the host, or a user already gone, are not
 * swept.
 */
export function ownWorkerIds(passwd: string, workersDir: string): Set<string> {
  return new Set(orphanWorkerUsers(passwd, workersDir, new Set()).map((user) => user.workerId));
}

export function orphanWorkerUsers(
  passwd: string,
  workersDir: string,
  known: ReadonlySet<string>,
): (PasswdEntry & { workerId: string })[] {
  const prefix = `${workersDir.replace(/\/+$/, '')}/`;
  return parsePasswd(passwd)
    .filter(
      (e) => e.name.startsWith('ls-') && e.uid >= WORKER_ID_MIN && e.uid <= WORKER_ID_MAX && e.home.startsWith(prefix),
    )
    .map((e) => ({ ...e, workerId: `w${e.name.slice('ls-'.length)}` }))
    .filter((e) => !known.has(e.workerId));
}

function readLocal(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Creates the group and the user with one random id for both, retrying when
 * the id is taken.
 */
export async function createWorkerUser(
  user: WorkerUserSpec,
  signal?: AbortSignal,
): Promise<{ uid: number; gid: number }> {
  for (let attempt = 0; attempt < ID_ATTEMPTS; attempt += 1) {
    const taken = new Set([...idsOf(readLocal('/etc/passwd')), ...idsOf(readLocal('/etc/group'))]);
    const id = pickWorkerId(taken);
    const group = await runTool(groupaddArgv(user.name, id), { signal });
    if (group.code === EX_ID_EXISTS) continue;
    if (group.code !== 0)
      throw new IllumosToolError(
        `groupadd ${user.name} failed (exit ${String(group.code)}): ${lastLines(group.output, 2)}`,
      );
    const created = await runTool(useraddArgv(user, id), { signal });
    if (created.code === EX_ID_EXISTS) {
      await deleteGroup(user.name, signal);
      continue;
    }
    if (created.code !== 0)
      throw new IllumosToolError(
        `useradd ${user.name} failed (exit ${String(created.code)}): ${lastLines(created.output, 2)}`,
      );
    return { uid: id, gid: id };
  }
  throw new IllumosToolError(`no free uid/gid for ${user.name} after ${ID_ATTEMPTS} tries`);
}

/** Removes the user and then its group; either already gone is fine. */
export async function deleteWorkerUser(name: string, signal?: AbortSignal): Promise<void> {
  const result = await runTool(userdelArgv(name), { signal });
  if (result.code !== 0 && result.code !== EX_NAME_NOT_EXIST)
    throw new IllumosToolError(`userdel ${name} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`);
  await deleteGroup(name, signal);
}

async function deleteGroup(name: string, signal?: AbortSignal): Promise<void> {
  const result = await runTool(groupdelArgv(name), { signal });
  if (result.code !== 0 && result.code !== EX_NAME_NOT_EXIST)
    throw new IllumosToolError(`groupdel ${name} failed (exit ${String(result.code)}): ${lastLines(result.output, 2)}`);
}

/** The account name of a uid through the name service, or undefined when no account has it. */
export async function accountOfUid(uid: number, signal?: AbortSignal): Promise<string | undefined> {
  const result = await runTool(getentPasswdArgv(uid), { signal });
  if (result.code !== 0) return undefined;
  return result.output.split(':', 1)[0] || undefined;
}
